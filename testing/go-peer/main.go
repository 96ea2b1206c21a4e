// Command go-peer runs one real hashicorp/memberlist (Debian's v0.2.2) node for the
// interop tests of @response/cluster. It is driven by a line protocol on stdin and
// reports everything as JSON lines on stdout, so a TypeScript test can steer it.
//
// Build offline in GOPATH mode (the only dependency is the Debian package
// golang-github-hashicorp-memberlist-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off go build -o go-peer main.go
//
// stdin commands (one per line):
//
//	join host:port[,host:port...]   leave <timeout-ms>   members   meta <string>
//	send <node> <text>              health                quit
//
// Every command is answered with {"event":"result","cmd":...,"ok":...}.
// stdout events: ready, join, leave, update (EventDelegate), suspect, failed, refute
// (parsed from memberlist's own log lines), msg and remote_state (Delegate), members,
// result, log (every non-DEBUG log line; DEBUG too with -debug).
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// out serialises JSON lines on stdout; events come from many goroutines.
type out struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (o *out) emit(fields map[string]interface{}) {
	if _, ok := fields["t_ms"]; !ok {
		fields["t_ms"] = time.Now().UnixMilli()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.enc.Encode(fields)
}

var stdout = &out{enc: json.NewEncoder(os.Stdout)}

func nodeAddr(n *memberlist.Node) string {
	return n.Address()
}

// events turns EventDelegate callbacks into JSON lines.
type events struct{}

func (events) NotifyJoin(n *memberlist.Node)   { emitNode("join", n) }
func (events) NotifyLeave(n *memberlist.Node)  { emitNode("leave", n) }
func (events) NotifyUpdate(n *memberlist.Node) { emitNode("update", n) }

func emitNode(kind string, n *memberlist.Node) {
	stdout.emit(map[string]interface{}{
		"event": kind, "node": n.Name, "addr": nodeAddr(n), "meta": string(n.Meta),
	})
}

// delegate provides our meta and local state, and reports user messages and remote state.
type delegate struct {
	mu    sync.Mutex
	meta  []byte
	state []byte
}

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return d.meta[:limit]
	}
	return d.meta
}

func (d *delegate) setMeta(meta string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.meta = []byte(meta)
}

func (d *delegate) NotifyMsg(b []byte) {
	stdout.emit(map[string]interface{}{"event": "msg", "data": string(b), "hex": hex.EncodeToString(b)})
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

func (d *delegate) LocalState(join bool) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	stdout.emit(map[string]interface{}{"event": "remote_state", "join": join, "data": string(buf)})
}

// logScanner receives memberlist's log lines (log.Logger writes one line per call) and
// turns the few that carry failure-detector decisions into events.
type logScanner struct{ debug bool }

var (
	reSuspect = regexp.MustCompile(`Suspect (.+) has failed, no acks received`)
	reFailed  = regexp.MustCompile(`Marking (.+) as failed, suspect timeout reached \((\d+) peer confirmations\)`)
	reRefute  = regexp.MustCompile(`Refuting an? (\w+) message`)
)

func (s *logScanner) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if m := reSuspect.FindStringSubmatch(line); m != nil {
			stdout.emit(map[string]interface{}{"event": "suspect", "node": m[1]})
		} else if m := reFailed.FindStringSubmatch(line); m != nil {
			c, _ := strconv.Atoi(m[2])
			stdout.emit(map[string]interface{}{"event": "failed", "node": m[1], "confirmations": c})
		} else if m := reRefute.FindStringSubmatch(line); m != nil {
			stdout.emit(map[string]interface{}{"event": "refute", "kind": m[1]})
		}
		if s.debug || !strings.Contains(line, "[DEBUG]") {
			stdout.emit(map[string]interface{}{"event": "log", "line": line})
		}
	}
	return len(p), nil
}

func presetConfig(name string) (*memberlist.Config, error) {
	switch name {
	case "local":
		return memberlist.DefaultLocalConfig(), nil
	case "lan":
		return memberlist.DefaultLANConfig(), nil
	case "wan":
		return memberlist.DefaultWANConfig(), nil
	}
	return nil, fmt.Errorf("unknown preset %q (local|lan|wan)", name)
}

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

func splitAddrs(s string) []string {
	var addrs []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

func fail(format string, args ...interface{}) {
	stdout.emit(map[string]interface{}{"event": "fatal", "error": fmt.Sprintf(format, args...)})
	os.Exit(2)
}

func main() {
	name := flag.String("name", "", "node name (required)")
	bind := flag.String("bind", "127.0.0.1", "bind address")
	port := flag.Int("port", 0, "bind port, 0 = ephemeral (reported in the ready event)")
	preset := flag.String("preset", "local", "local|lan|wan")
	key := flag.String("key", "", "hex encryption key, 16/24/32 bytes")
	join := flag.String("join", "", "comma separated host:port list to join at start")
	meta := flag.String("meta", "", "node meta")
	state := flag.String("state", "", "delegate local state sent in push/pull")
	protocol := flag.Int("protocol", -1, "protocol version (1..5), -1 = preset default")
	probeInterval := flag.Int("probe-interval-ms", 0, "override ProbeInterval")
	probeTimeout := flag.Int("probe-timeout-ms", 0, "override ProbeTimeout")
	gossipInterval := flag.Int("gossip-interval-ms", 0, "override GossipInterval")
	gossipNodes := flag.Int("gossip-nodes", 0, "override GossipNodes")
	gossipDead := flag.Int("gossip-to-dead-ms", 0, "override GossipToTheDeadTime")
	pushPull := flag.Int("pushpull-interval-ms", -1, "override PushPullInterval (0 disables)")
	suspicionMult := flag.Int("suspicion-mult", 0, "override SuspicionMult")
	suspicionMax := flag.Int("suspicion-max-mult", 0, "override SuspicionMaxTimeoutMult")
	retransmitMult := flag.Int("retransmit-mult", 0, "override RetransmitMult")
	indirect := flag.Int("indirect-checks", -1, "override IndirectChecks")
	tcpTimeout := flag.Int("tcp-timeout-ms", 0, "override TCPTimeout")
	awarenessMax := flag.Int("awareness-max-mult", 0, "override AwarenessMaxMultiplier")
	udpBuffer := flag.Int("udp-buffer-size", 0, "override UDPBufferSize")
	deadReclaim := flag.Int("dead-node-reclaim-ms", 0, "override DeadNodeReclaimTime")
	noTCPPings := flag.Bool("disable-tcp-pings", false, "set DisableTcpPings")
	noCompress := flag.Bool("disable-compression", false, "clear EnableCompression")
	debug := flag.Bool("debug", false, "also report DEBUG log lines")
	flag.Parse()

	if *name == "" {
		fail("-name is required")
	}
	conf, err := presetConfig(*preset)
	if err != nil {
		fail("%v", err)
	}
	conf.Name = *name
	conf.BindAddr = *bind
	conf.BindPort = *port
	conf.AdvertisePort = *port
	conf.Logger = log.New(&logScanner{debug: *debug}, "", log.Lmicroseconds)
	if *protocol >= 0 {
		conf.ProtocolVersion = uint8(*protocol)
	}
	if *probeInterval > 0 {
		conf.ProbeInterval = ms(*probeInterval)
	}
	if *probeTimeout > 0 {
		conf.ProbeTimeout = ms(*probeTimeout)
	}
	if *gossipInterval > 0 {
		conf.GossipInterval = ms(*gossipInterval)
	}
	if *gossipNodes > 0 {
		conf.GossipNodes = *gossipNodes
	}
	if *gossipDead > 0 {
		conf.GossipToTheDeadTime = ms(*gossipDead)
	}
	if *pushPull >= 0 {
		conf.PushPullInterval = ms(*pushPull)
	}
	if *suspicionMult > 0 {
		conf.SuspicionMult = *suspicionMult
	}
	if *suspicionMax > 0 {
		conf.SuspicionMaxTimeoutMult = *suspicionMax
	}
	if *retransmitMult > 0 {
		conf.RetransmitMult = *retransmitMult
	}
	if *indirect >= 0 {
		conf.IndirectChecks = *indirect
	}
	if *tcpTimeout > 0 {
		conf.TCPTimeout = ms(*tcpTimeout)
	}
	if *awarenessMax > 0 {
		conf.AwarenessMaxMultiplier = *awarenessMax
	}
	if *udpBuffer > 0 {
		conf.UDPBufferSize = *udpBuffer
	}
	if *deadReclaim > 0 {
		conf.DeadNodeReclaimTime = ms(*deadReclaim)
	}
	conf.DisableTcpPings = *noTCPPings
	if *noCompress {
		conf.EnableCompression = false
	}
	if *key != "" {
		k, err := hex.DecodeString(*key)
		if err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
			fail("-key must be 32, 48 or 64 hex digits")
		}
		conf.SecretKey = k
	}
	del := &delegate{meta: []byte(*meta), state: []byte(*state)}
	conf.Delegate = del
	conf.Events = events{}

	ml, err := memberlist.Create(conf)
	if err != nil {
		fail("create: %v", err)
	}
	self := ml.LocalNode()
	stdout.emit(map[string]interface{}{"event": "ready", "name": self.Name, "addr": nodeAddr(self), "port": int(self.Port)})

	if addrs := splitAddrs(*join); len(addrs) > 0 {
		doJoin(ml, addrs)
	}

	quit := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(quit) }) }

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		stop()
	}()
	// End of stdin (the parent died or closed the pipe) also stops us: no orphans.
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if !command(ml, del, strings.TrimSpace(sc.Text())) {
				break
			}
		}
		stop()
	}()

	<-quit
	_ = ml.Shutdown()
	stdout.emit(map[string]interface{}{"event": "exit"})
}

func doJoin(ml *memberlist.Memberlist, addrs []string) {
	n, err := ml.Join(addrs)
	res := map[string]interface{}{"event": "result", "cmd": "join", "ok": err == nil, "count": n}
	if err != nil {
		res["error"] = err.Error()
	}
	stdout.emit(res)
}

func result(cmd string, err error) {
	res := map[string]interface{}{"event": "result", "cmd": cmd, "ok": err == nil}
	if err != nil {
		res["error"] = err.Error()
	}
	stdout.emit(res)
}

// command runs one stdin line; false means quit.
func command(ml *memberlist.Memberlist, del *delegate, line string) bool {
	if line == "" {
		return true
	}
	verb, arg := line, ""
	if i := strings.IndexByte(line, ' '); i >= 0 {
		verb, arg = line[:i], strings.TrimSpace(line[i+1:])
	}
	switch verb {
	case "quit":
		return false
	case "join":
		doJoin(ml, splitAddrs(arg))
	case "leave":
		t, err := strconv.Atoi(arg)
		if err != nil {
			result("leave", fmt.Errorf("leave needs a timeout in ms"))
			break
		}
		result("leave", ml.Leave(ms(t)))
	case "members":
		var list []map[string]interface{}
		for _, n := range ml.Members() {
			list = append(list, map[string]interface{}{
				"name": n.Name, "addr": nodeAddr(n), "meta": string(n.Meta), "state": stateName(n.State),
			})
		}
		if list == nil {
			list = []map[string]interface{}{}
		}
		stdout.emit(map[string]interface{}{"event": "members", "members": list})
		result("members", nil)
	case "meta":
		del.setMeta(arg)
		result("meta", ml.UpdateNode(5*time.Second))
	case "send":
		parts := strings.SplitN(arg, " ", 2)
		var target *memberlist.Node
		for _, n := range ml.Members() {
			if n.Name == parts[0] {
				target = n
			}
		}
		if target == nil || len(parts) < 2 {
			result("send", fmt.Errorf("usage: send <alive node> <text>"))
			break
		}
		result("send", ml.SendReliable(target, []byte(parts[1])))
	case "health":
		stdout.emit(map[string]interface{}{"event": "health", "score": ml.GetHealthScore()})
		result("health", nil)
	default:
		result(verb, fmt.Errorf("unknown command"))
	}
	return true
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	}
	return "left"
}
