package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// Embedded is a containerd the agent starts, restarts when it dies, and stops itself,
// whose root, state and socket live under one directory, so several agents on one
// machine do not collide. Containers outlive it: their shims keep them running while it
// is down, and the next containerd on the same directory, restarted or started by the
// next agent, finds them again.
type Embedded struct {
	// Address is containerd's socket; a restarted containerd serves on the same one.
	Address string
	dir     string
	config  string
	backoff Backoff
	log     logr.Logger

	// stop is closed by Stop; done when the supervisor has ended and containerd is stopped.
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	stopErr  error

	mu       sync.Mutex
	onChange func(up bool)
}

// Supervision is how an Embedded is kept running.
type Supervision struct {
	// Log gets containerd's exits and restarts.
	Log logr.Logger
	// Backoff is the delay between restarts; zero is DefaultBackoff.
	Backoff Backoff
}

// PidFile is the file under an Embedded's directory that holds the pid of the
// containerd serving it, while one runs.
const PidFile = "containerd.pid"

// StartEmbedded starts containerd with its state in dir, waits until it serves, and from
// then on restarts it with s.Backoff whenever it exits, until Stop or until ctx ends.
// Its output goes to dir/containerd.log and its pid to dir/PidFile.
func StartEmbedded(ctx context.Context, dir string, s Supervision) (*Embedded, error) {
	if _, err := exec.LookPath("containerd"); err != nil {
		return nil, fmt.Errorf("--containerd=embedded needs containerd and runc: apt-get install -y containerd runc")
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	e := &Embedded{Address: filepath.Join(abs, "containerd.sock"), dir: abs, config: filepath.Join(abs, "containerd.toml"),
		backoff: s.Backoff, log: s.Log, stop: make(chan struct{}), done: make(chan struct{})}
	if e.backoff == (Backoff{}) {
		e.backoff = DefaultBackoff
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(abs, "root"), filepath.Join(abs, "state"), e.Address, e.Address+".ttrpc")
	if err := os.WriteFile(e.config, []byte(config), 0o644); err != nil {
		return nil, err
	}
	if err := e.awaitPrevious(ctx); err != nil {
		return nil, err
	}
	first := make(chan error, 1)
	go e.supervise(ctx, first)
	if err := <-first; err != nil {
		<-e.done
		return nil, err
	}
	return e, nil
}

// OnChange has f called with false when containerd exits unexpectedly and with true when
// the restarted one serves again; not for the first start, nor for Stop. f runs on the
// supervisor's goroutine and must not block.
func (e *Embedded) OnChange(f func(up bool)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onChange = f
}

func (e *Embedded) notify(up bool) {
	e.mu.Lock()
	f := e.onChange
	e.mu.Unlock()
	if f != nil {
		f(up)
	}
}

// Stop ends the supervision and stops containerd with SIGTERM, and SIGKILL after 10 s;
// containers keep running. It does not restart containerd, whatever happens meanwhile.
func (e *Embedded) Stop() error {
	e.stopOnce.Do(func() { close(e.stop) })
	<-e.done
	return e.stopErr
}

// process is one run of containerd.
type process struct {
	cmd    *exec.Cmd
	exited chan error
}

// supervise starts containerd, reports the first start's outcome on first, and restarts
// containerd each time it exits, until Stop, or until ctx ends (when it leaves the running
// containerd to Stop). It runs on an OS thread of its own to the end: containerd's
// Pdeathsig, which stops it when the agent dies, fires when the thread that started it
// ends, not the process.
func (e *Embedded) supervise(ctx context.Context, first chan<- error) {
	goruntime.LockOSThread()
	defer close(e.done)
	var delay time.Duration
	up := true
	for {
		p, err := e.launch(ctx)
		if first != nil {
			first <- err
			if err != nil {
				return
			}
			first = nil
		}
		var ranFor time.Duration
		if err == nil {
			if !up {
				up = true
				e.log.Info("Restarted the embedded containerd", "pid", p.cmd.Process.Pid, "dir", e.dir)
				e.notify(true)
			}
			started := time.Now()
			select {
			case <-e.stop:
				e.stopErr = e.terminate(p)
				return
			case exit := <-p.exited:
				ranFor = time.Since(started)
				_ = os.Remove(filepath.Join(e.dir, PidFile))
				err = fmt.Errorf("containerd (pid %d) exited after %s: %s", p.cmd.Process.Pid, ranFor.Round(time.Millisecond), exitStatus(exit))
			}
		}
		if up {
			up = false
			e.notify(false)
		}
		if ctx.Err() != nil {
			return // Shutting down: no restart.
		}
		delay = e.backoff.Next(delay, ranFor)
		e.log.Error(err, "The embedded containerd is down; restarting it", "restartIn", delay, "log", filepath.Join(e.dir, "containerd.log"))
		select {
		case <-e.stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// exitStatus says how a containerd ended, from its Wait.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// launch starts containerd and waits until it serves.
func (e *Embedded) launch(ctx context.Context) (*process, error) {
	logPath := filepath.Join(e.dir, "containerd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("containerd", "--config", e.config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C meant for the agent reaches containerd only through
	// Stop, after the agent is done with it. It ends with the agent, even a killed one; the
	// shims, which containerd starts in process groups of their own and which outlive it,
	// keep the containers running for the next. Nothing here signals more than the one
	// containerd process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	go func() {
		p.exited <- cmd.Wait()
		logFile.Close()
	}()
	if err := writePid(filepath.Join(e.dir, PidFile), cmd.Process.Pid); err != nil {
		return nil, errors.Join(err, e.terminate(p))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.Dial("unix", e.Address); err == nil {
			conn.Close()
			return p, nil
		}
		select {
		case err := <-p.exited:
			_ = os.Remove(filepath.Join(e.dir, PidFile))
			return nil, fmt.Errorf("containerd exited at start (%s); see %s", exitStatus(err), logPath)
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), e.terminate(p))
		case <-e.stop:
			return nil, errors.Join(errors.New("stopped while containerd was starting"), e.terminate(p))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("containerd did not serve %s within 30s; see %s", e.Address, logPath), e.terminate(p))
		}
	}
}

// terminate stops p with SIGTERM, and SIGKILL after 10 s, waits until it has exited, and
// removes the pid file. Whatever status p then exits with, it is the stop asked for.
func (e *Embedded) terminate(p *process) error {
	defer os.Remove(filepath.Join(e.dir, PidFile))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = p.wait() // It has exited already.
		return nil
	}
	kill := time.AfterFunc(10*time.Second, func() { _ = p.cmd.Process.Kill() })
	defer kill.Stop()
	_ = p.wait()
	return nil
}

// wait is how p exited, once it has.
func (p *process) wait() error { return <-p.exited }
