package main

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"
)

func TestScratchCPU(t *testing.T) {
	buf := make([]byte, 4096)
	for _, par := range []int{1, 2, 1, 2} {
		var wg sync.WaitGroup
		start := time.Now()
		for range par {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := uint64(1)
				for i := range 200_000_000 {
					x = x*6364136223846793005 + uint64(i)
				}
				_ = x
				for range 20000 {
					sha256.Sum256(buf)
				}
			}()
		}
		wg.Wait()
		t.Logf("par=%d: %v", par, time.Since(start))
	}
}
