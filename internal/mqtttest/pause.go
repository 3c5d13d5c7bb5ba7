package mqtttest

import "syscall"

// Pause stops the broker process (SIGSTOP) without closing its sockets: the
// TCP connections stay up and nothing is answered, as with a broker that
// hangs or a link that black-holes. Resume continues it. Both do nothing
// while the broker is stopped.
func (b *Broker) Pause() { b.signal(syscall.SIGSTOP) }

// Resume continues a paused broker (SIGCONT).
func (b *Broker) Resume() { b.signal(syscall.SIGCONT) }

func (b *Broker) signal(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		b.proc.cmd.Process.Signal(sig)
	}
}
