package cqltest

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gocql/gocql"
)

// Proxy forwards TCP connections to a real node, so that a test can cut or
// stall the network between a client and Cassandra without stopping the
// node. It forwards bytes unchanged; it is not a CQL server.
//
// Cut ends it for good. Sever and Stall are network faults that Heal undoes:
// Sever resets every connection and refuses new ones (a firewall that
// rejects), Stall holds every byte (a network that drops packets: requests
// hang until the client's timeout).
type Proxy struct {
	ln     net.Listener
	target string
	dials  atomic.Int64
	done   chan struct{} // closed by Cut

	mu             sync.Mutex
	conns          []net.Conn
	stalled        bool // both ways
	repliesStalled bool // the node's answers only
	severed        bool
	healed         chan struct{} // closed by Heal, replaced by Stall or StallReplies
}

// NewProxy listens on a free port of target's own address (a loopback
// address of a local node) and forwards to target (host:port). It is cut
// when the test ends.
//
// The proxies of the nodes of one cluster must have addresses of their own:
// gocql v1.7.0 tells hosts apart by IP alone in its host selection policies
// (HostInfo.Equal compares addresses without the port, and the policies'
// host lists refuse a host Equal to one they hold), so nodes translated to
// one IP with different ports collapse into one host, which then receives
// every statement.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	host, _, err := net.SplitHostPort(target)
	if err != nil || net.ParseIP(host) == nil {
		host = "127.0.0.1"
	}
	return NewProxyOn(t, host, target)
}

// NewProxyOn is NewProxy listening on a free port of host (an IP).
func NewProxyOn(t testing.TB, host, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("cqltest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, done: make(chan struct{}), healed: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Dials is the number of connections the proxy has accepted.
func (p *Proxy) Dials() int64 { return p.dials.Load() }

// Translator maps every address a node announces to the proxy, so that a
// driver reaches every node through it.
func (p *Proxy) Translator() gocql.AddressTranslator {
	return gocql.AddressTranslatorFunc(func(net.IP, int) (net.IP, int) {
		a := p.ln.Addr().(*net.TCPAddr)
		return a.IP, a.Port
	})
}

// Stall stops forwarding: connections stay open but no byte moves, as with
// an overloaded node or a network that drops packets. Heal resumes it,
// delivering what was held; Cut ends it.
func (p *Proxy) Stall() { p.hold(&p.stalled) }

// StallReplies holds the node's answers while requests still reach it:
// writes apply, and their callers wait. Followed by Sever, the answers are
// lost: the client sees a write fail that was applied (the unknown outcome
// a node crash or a network fault leaves). Heal delivers what was held.
func (p *Proxy) StallReplies() { p.hold(&p.repliesStalled) }

// hold sets a stall flag (a field of p), with a new channel for Heal to
// close when nothing was held yet.
func (p *Proxy) hold(flag *bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled && !p.repliesStalled {
		p.healed = make(chan struct{})
	}
	*flag = true
}

// Sever closes every connection and refuses new ones (they are accepted and
// closed at once, as a rejecting firewall would) until Heal: requests in
// flight fail with a reset connection.
func (p *Proxy) Sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.severed = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Heal ends a Stall or a Sever: bytes move again and new connections are
// forwarded.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.severed = false
	if p.stalled || p.repliesStalled {
		p.stalled, p.repliesStalled = false, false
		close(p.healed)
	}
}

// Cut closes the listener and every connection: the node is unreachable
// for good.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isCut() {
		return
	}
	close(p.done)
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

func (p *Proxy) isCut() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.dials.Add(1)
		p.mu.Lock()
		severed := p.severed
		p.mu.Unlock()
		if severed {
			_ = client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		if p.isCut() || p.severed {
			p.mu.Unlock()
			_ = client.Close()
			_ = server.Close()
			continue
		}
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.pipe(client, server, false)
		go p.pipe(server, client, true)
	}
}

// pipe copies from src to dst, holding data while the proxy stalls (and,
// for the node's answers, while it stalls replies).
func (p *Proxy) pipe(src, dst net.Conn, replies bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stalled, healed := p.stalled || replies && p.repliesStalled, p.healed
			p.mu.Unlock()
			if stalled {
				select {
				case <-healed:
				case <-p.done:
					return
				}
			}
			if p.isCut() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// HostPort joins a host and port.
func HostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
