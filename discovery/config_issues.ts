/**
 * Turns valibot results into {@link ConfigError}s with full dotted paths, so every plugin
 * reports problems the same way (`cluster.autojoin.nats.url: ...`).
 *
 * @module
 */
import * as v from "valibot";
import { ConfigError, type ConfigIssue } from "../errors/mod.ts";

/** Issues for every key of `input` (a plain object) that is not in `allowed`. */
export function unknownKeyIssues(
  input: unknown,
  allowed: readonly string[],
  path: string,
): ConfigIssue[] {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return [];
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) {
      issues.push({
        path: `${path}.${key}`,
        message: `unknown option "${key}" (allowed: ${allowed.join(", ")})`,
      });
    }
  }
  return issues;
}

/** Valibot issues rebased under `path`; list indexes print as `[i]`, keys as `.key`. */
export function valibotIssues(
  issues: readonly v.BaseIssue<unknown>[],
  path: string,
): ConfigIssue[] {
  return issues.map((issue) => {
    let at = path;
    for (const item of issue.path ?? []) {
      const key: unknown = item.key;
      at += typeof key === "number" ? `[${key}]` : `.${String(key)}`;
    }
    return { path: at, message: issue.message };
  });
}

/**
 * Parses `input` with `schema` (an object schema whose keys are `allowed`), reporting unknown
 * keys, schema issues and `extra` issues (checked by hand by the caller) together.
 * @throws ConfigError
 */
export function parseWithSchema<T>(
  schema: v.GenericSchema<unknown, T>,
  allowed: readonly string[],
  input: unknown,
  path: string,
  extra: readonly ConfigIssue[] = [],
): T {
  const issues = [...unknownKeyIssues(input, allowed, path), ...extra];
  const result = v.safeParse(schema, input);
  if (!result.success) issues.push(...valibotIssues(result.issues, path));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return result.output;
}
