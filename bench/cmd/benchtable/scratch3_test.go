package main

import (
	"crypto/sha256"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestScratchCPU(t *testing.T) {
	buf := make([]byte, 4096)
	for _, par := range []int{1, 2, 1, 2, 1, 2, 1, 2} {
		var wg sync.WaitGroup
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(0, &ru0)
		start := time.Now()
		for range par {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := uint64(1)
				for i := range 1_000_000_000 {
					x = x*6364136223846793005 + uint64(i)
				}
				_ = x
				for range 20000 {
					sha256.Sum256(buf)
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		syscall.Getrusage(0, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		t.Logf("par=%d: %v cpu %.2f cores", par, el, cpu.Seconds()/el.Seconds())
	}
}
