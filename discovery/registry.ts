/**
 * The registry of discovery plugins: `autojoin: { <name>: {...} }` in the config finds its
 * plugin here by name. Built-in plugins register on import of `discovery/mod.ts`; third-party
 * plugins call {@link registerDiscovery} before the config is parsed.
 *
 * @module
 */
import { ConfigError } from "../errors/mod.ts";
import type { Discovery, DiscoveryFactory } from "./types.ts";

const factories: Map<string, DiscoveryFactory> = new Map();

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Registers a discovery plugin under `name` (letters, digits, `_`, `-`, `.`).
 *
 * @example
 * ```ts
 * registerDiscovery("dns", { parse: parseDnsOptions, create: (o) => new DnsDiscovery(o) });
 * // config: autojoin: { dns: { name: "cluster.internal" } }
 * ```
 * @param name the key used under `autojoin`
 * @param factory validates options and creates instances
 * Registering the very same factory again under the same name is a no-op.
 * @throws Error when the name is malformed or already taken by another factory
 */
export function registerDiscovery<Options>(name: string, factory: DiscoveryFactory<Options>): void {
  if (!NAME.test(name)) throw new Error(`invalid discovery plugin name ${JSON.stringify(name)}`);
  const existing = factories.get(name);
  if (existing === (factory as DiscoveryFactory)) return;
  if (existing !== undefined) throw new Error(`discovery plugin "${name}" is already registered`);
  factories.set(name, factory as DiscoveryFactory);
}

/**
 * Removes a registered plugin (mainly for tests); unknown names are ignored.
 *
 * @example
 * ```ts
 * unregisterDiscovery("dns");
 * ```
 * @returns whether a plugin was removed
 */
export function unregisterDiscovery(name: string): boolean {
  return factories.delete(name);
}

/**
 * The plugin registered under `name`, if any.
 *
 * @example
 * ```ts
 * const nats = getDiscovery("nats"); // DiscoveryFactory | undefined
 * ```
 */
export function getDiscovery(name: string): DiscoveryFactory | undefined {
  return factories.get(name);
}

/**
 * Names of every registered plugin, sorted.
 *
 * @example
 * ```ts
 * registeredDiscoveryNames(); // ["nats", "static"]
 * ```
 */
export function registeredDiscoveryNames(): string[] {
  return [...factories.keys()].sort();
}

/** The plugin chosen by an `autojoin` stanza and its validated options. */
export interface ParsedAutojoin {
  /** The registered plugin name. */
  name: string;
  /** Options as returned by the plugin's `parse` (validated, defaults applied). */
  options: unknown;
}

/**
 * Plugins passed to one node (`cluster(stanza, { discovery })`), looked up before the
 * module-wide registry and never added to it: one node's plugins do not leak into the next.
 */
export type LocalPlugins = Readonly<Record<string, DiscoveryFactory>>;

function factoryFor(name: string, local: LocalPlugins | undefined): DiscoveryFactory | undefined {
  if (local !== undefined && Object.hasOwn(local, name)) return local[name];
  return factories.get(name);
}

function registeredText(local: LocalPlugins | undefined): string {
  const names = new Set(registeredDiscoveryNames());
  for (const n of Object.keys(local ?? {})) names.add(n);
  return names.size === 0 ? "none" : [...names].sort().join(", ");
}

/**
 * Validates an `autojoin` stanza: exactly one key, naming a registered plugin, whose value the
 * plugin validates.
 *
 * @example
 * ```ts
 * parseAutojoin({ nats: { url: "nats://127.0.0.1:4222" } });
 * // { name: "nats", options: { url: ["nats://127.0.0.1:4222"], subject: "response-cluster" } }
 * parseAutojoin({ consul: {} });
 * // throws ConfigError "cluster.autojoin.consul: unknown discovery plugin "consul" (registered: nats, static)"
 * ```
 * @param autojoin the raw value of the `autojoin` key
 * @param path dotted path of that value, for error messages
 * @param local this node's own plugins, found before the registered ones
 * @throws ConfigError
 */
export function parseAutojoin(
  autojoin: unknown,
  path = "cluster.autojoin",
  local?: LocalPlugins,
): ParsedAutojoin {
  if (typeof autojoin !== "object" || autojoin === null || Array.isArray(autojoin)) {
    throw new ConfigError([{
      path,
      message: `expected an object with one discovery plugin name as key (registered: ${
        registeredText(local)
      })`,
    }]);
  }
  const keys = Object.keys(autojoin);
  if (keys.length !== 1) {
    const got = keys.length === 0
      ? "none"
      : `${keys.length}: ${keys.map((k) => `"${k}"`).join(", ")}`;
    throw new ConfigError([{
      path,
      message: `expected exactly one discovery plugin, got ${got} (registered: ${
        registeredText(local)
      })`,
    }]);
  }
  const name = keys[0];
  const factory = factoryFor(name, local);
  const at = `${path}.${name}`;
  if (factory === undefined) {
    throw new ConfigError([{
      path: at,
      message: `unknown discovery plugin "${name}" (registered: ${registeredText(local)})`,
    }]);
  }
  const raw = (autojoin as Record<string, unknown>)[name];
  try {
    return { name, options: factory.parse(raw, at) };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([{
      path: at,
      message: err instanceof Error ? err.message : String(err),
    }]);
  }
}

/**
 * Creates the discovery chosen by {@link parseAutojoin}.
 *
 * @example
 * ```ts
 * const discovery = createDiscovery(parseAutojoin(config.autojoin));
 * await discovery.start(ctx);
 * ```
 * @param parsed what {@link parseAutojoin} returned
 * @param local the same node plugins that were given to {@link parseAutojoin}
 * @throws ConfigError when the plugin was unregistered in between
 */
export function createDiscovery(parsed: ParsedAutojoin, local?: LocalPlugins): Discovery {
  const factory = factoryFor(parsed.name, local);
  if (factory === undefined) {
    throw new ConfigError([{
      path: "cluster.autojoin",
      message: `unknown discovery plugin "${parsed.name}" (registered: ${registeredText(local)})`,
    }]);
  }
  return factory.create(parsed.options);
}
