// Go's compress/lzw (LSB, literal width 8, as hashicorp/memberlist uses it) on the body given as
// the first argument: the anchor of bench/investigations/lzw_speed.ts. Prints one JSON object.
package main

import (
	"bytes"
	"compress/lzw"
	"encoding/json"
	"io"
	"os"
	"sort"
	"time"
)

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

func main() {
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	const rounds, perRound = 7, 20
	var z []byte
	var compressMs, decompressMs []float64
	for r := 0; r < rounds; r++ {
		t := time.Now()
		for i := 0; i < perRound; i++ {
			var buf bytes.Buffer
			w := lzw.NewWriter(&buf, lzw.LSB, 8)
			if _, err := w.Write(body); err != nil {
				panic(err)
			}
			w.Close()
			z = buf.Bytes()
		}
		compressMs = append(compressMs, float64(time.Since(t).Microseconds())/1000/perRound)
		t = time.Now()
		for i := 0; i < perRound; i++ {
			rd := lzw.NewReader(bytes.NewReader(z), lzw.LSB, 8)
			var out bytes.Buffer
			if _, err := io.Copy(&out, rd); err != nil {
				panic(err)
			}
			rd.Close()
			if out.Len() != len(body) {
				panic("round trip changed the length")
			}
		}
		decompressMs = append(decompressMs, float64(time.Since(t).Microseconds())/1000/perRound)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"compressedBytes": len(z),
		"compressMs":      median(compressMs),
		"decompressMs":    median(decompressMs),
	})
}
