package main

import (
	"os"
	"sync"
	"testing"
	"time"
)

func TestScratchParallel(t *testing.T) {
	root, _ := moduleRoot()
	work := t.TempDir()
	code, err := wat(root+"/host/wasm/testdata/calls.wat", work)
	if err != nil {
		t.Fatal(err)
	}
	for _, noT := range []bool{false, true} {
		for _, par := range []int{1, 2} {
			var wg sync.WaitGroup
			start := time.Now()
			const n = 2000
			for range par {
				inst, closeFn, err := engineInstance(code, noT)
				if err != nil {
					t.Fatal(err)
				}
				defer closeFn()
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := message256()
					for range n {
						if err := inst.Deliver(b); err != nil {
							panic(err)
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			t.Logf("noT=%v par=%d: %v per deliver per goroutine, aggregate %.0f delivers/s", noT, par, el/n, float64(n*par)/el.Seconds())
		}
	}
	_ = os.Stderr
}
