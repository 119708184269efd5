// Command fanout measures the ssot-ws gateway fanning one channel's events
// out to N subscribers over real loopback WebSockets.
//
// For each N it starts the server (the chat example's generated Connect
// handlers and the gateway, in-memory engines) as a child process — the
// same binary re-executed with -server — so that the server's CPU and
// memory are accounted apart from the load generator's. It then opens N
// github.com/coder/websocket clients subscribed to Message?room_id=bench,
// measures the server's memory with the clients idle, publishes events at
// a fixed rate (CreateMessage over Connect by default) for a while and
// reports delivered events per second, publish-to-receive latency, server
// memory per idle connection and server CPU per million deliveries.
//
//	go run ./bench/fanout -n 100,1000,5000
//
// See bench/README.md for the figures and how to read them.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
)

// config is the load generator's configuration.
type config struct {
	Ns          []int
	Rate        float64 // events/s published; 0: Load/N
	Load        float64 // target deliveries/s when Rate is 0
	MaxRate     float64 // cap of the derived rate
	Dur         time.Duration
	Warmup      time.Duration
	Size        int
	Publish     string // http, create, broker
	Workers     int
	SendQueue   int
	WriteDelay  time.Duration
	Profile     string // directory for pprof files of the server
	InProcess   bool
	DialWorkers int
	Room        string

	Target        string // ssotws or centrifugo
	CentrifugoBin string // the centrifugo binary (-target centrifugo)
	ServerCPUs    string // taskset CPU list of the server child; "" = not pinned
	Channels      int    // rooms the subscribers are spread over (one channel each)
	Label         string // scenario name written with each JSON result
	// PublisherProcess runs the publishers in a process of their own
	// (pubproc.go).
	PublisherProcess bool
}

func main() {
	var (
		ns        = flag.String("n", "100,1000,5000", "comma-separated subscriber counts")
		rate      = flag.Float64("rate", 0, "events published per second (0: -load divided by N, capped by -max-rate)")
		load      = flag.Float64("load", 100000, "target deliveries per second when -rate is 0")
		maxRate   = flag.Float64("max-rate", 1000, "cap of the publish rate derived from -load")
		dur       = flag.Duration("dur", 5*time.Second, "measured publishing time per N")
		warmup    = flag.Duration("warmup", time.Second, "unmeasured publishing before the measurement")
		size      = flag.Int("size", 64, "bytes of message text (the payload)")
		publish   = flag.String("publish", "http", "how events are published: http (CreateMessage over Connect from the load generator), create (Resource.Create in the server), broker (Broker.Publish in the server)")
		workers   = flag.Int("workers", 4, "concurrent CreateMessage calls with -publish http")
		sendQueue = flag.Int("send-queue", 0, "gateway Limits.SendQueue (0: the default; the ssotws target only)")
		wdelay    = flag.Duration("write-delay", 0, "gateway WriteDelay: how long a write loop gathers events before writing")
		profile   = flag.String("profile", "", "directory to write the server's CPU profile (measured phase) and heap profile (idle) per N")
		repeat    = flag.Int("repeat", 1, "runs per N (a fresh server each time); every run is a row of the table")
		inProc    = flag.Bool("inprocess", false, "run the server in this process (CPU and memory figures then include the clients)")
		target    = flag.String("target", "ssotws", "server to measure: ssotws (the chat example's handlers and the gateway) or centrifugo (-centrifugo-bin, started with a generated configuration)")
		centBin   = flag.String("centrifugo-bin", "centrifugo", "the Centrifugo binary for -target centrifugo")
		srvCPUs   = flag.String("server-cpus", "", "pin the server child to these CPUs (taskset -c list); the load generator's own pinning is up to its caller")
		channels  = flag.Int("channels", 1, "spread the subscribers over this many rooms, one channel each; publishes go round robin over them, the rate is the total")
		label     = flag.String("label", "", "scenario name recorded with each result in -json")
		jsonOut   = flag.String("json", "", "append each result as a JSON line to this file")
		report    = flag.String("report", "", "print the side-by-side table of the JSON results in this file and exit")
		server    = flag.Bool("server", false, "internal: run as the server child")
		addr      = flag.String("addr", "127.0.0.1:0", "internal: the server child's address (loopback only)")
		pubProc   = flag.Bool("publisher-process", false, "publish from a process of its own (on the load generator's CPUs), not from the one that runs the subscribers: the acknowledgement time then does not include the load generator's own run queue (-publish http)")
		pubChild  = flag.Bool("publisher-child", false, "internal: run as the publisher child against -base")
		base      = flag.String("base", "", "internal: the publisher child's server URL")
		room      = flag.String("room", "bench", "the room the subscribers join and events are published to (with -channels, the prefix of the rooms)")
	)
	flag.Parse()
	if *report != "" {
		if err := printReport(os.Stdout, *report); err != nil {
			fmt.Fprintln(os.Stderr, "fanout:", err)
			os.Exit(1)
		}
		return
	}
	if *server {
		if err := runServerChild(*addr, serverConfig{SendQueue: *sendQueue, WriteDelay: *wdelay}); err != nil {
			fmt.Fprintln(os.Stderr, "fanout server:", err)
			os.Exit(1)
		}
		return
	}
	cfg := config{
		PublisherProcess: *pubProc,
		Rate:             *rate, Load: *load, MaxRate: *maxRate, Dur: *dur, Warmup: *warmup, Size: *size,
		Publish: *publish, Workers: *workers, SendQueue: *sendQueue, WriteDelay: *wdelay, Profile: *profile,
		InProcess: *inProc, DialWorkers: 64, Room: *room,
		Target: *target, CentrifugoBin: *centBin, ServerCPUs: *srvCPUs, Channels: max(*channels, 1), Label: *label,
	}
	if *pubChild {
		if err := runPublisherChild(cfg, *base); err != nil {
			fmt.Fprintln(os.Stderr, "fanout publisher:", err)
			os.Exit(1)
		}
		return
	}
	for f := range strings.SplitSeq(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "fanout: bad -n %q\n", f)
			os.Exit(2)
		}
		cfg.Ns = append(cfg.Ns, n)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(2)
	}
	raiseFileLimit()
	fmt.Printf("fanout: target=%s, %s, server CPUs %q, publish=%s, size=%d B, dur=%s, warmup=%s, write-delay=%s, channels=%d, load average %s\n",
		cfg.Target, cpuModel(), cfg.ServerCPUs, cfg.Publish, cfg.Size, cfg.Dur, cfg.Warmup, cfg.WriteDelay, cfg.Channels, loadAverage())
	var results []result
	for _, n := range cfg.Ns {
		for range max(*repeat, 1) {
			r, err := runOne(context.Background(), cfg, n)
			if err != nil {
				fmt.Fprintf(os.Stderr, "fanout: N=%d: %v\n", n, err)
				os.Exit(1)
			}
			results = append(results, r)
			if *jsonOut != "" {
				if err := appendJSON(*jsonOut, r); err != nil {
					fmt.Fprintln(os.Stderr, "fanout:", err)
					os.Exit(1)
				}
			}
		}
	}
	fmt.Println()
	printTable(os.Stdout, results)
}

// result is the outcome of one N.
type result struct {
	Target        string
	Label         string
	N             int
	Channels      int
	Workers       int
	Rate          float64 // offered events/s
	Achieved      float64 // published events/s
	Published     int64
	Delivered     int64 // measured deliveries
	Expected      int64
	Gaps          int64
	Closed        int // clients the server closed
	Elapsed       time.Duration
	Frames        int64
	P50, P99, Max time.Duration
	AckP50        time.Duration // publish acknowledgement (-publish http)
	AckP99        time.Duration
	ServerCPU     float64       // seconds, measured phase
	ServerSys     float64       // of which in the kernel
	ClientCPU     float64       // seconds, load generator (this process), measured phase
	OtherCPU      float64       // seconds, every other process of the machine, measured phase
	Window        time.Duration // the measured phase, publishing and draining
	HeapPerConn   float64       // bytes: HeapInuse+StackInuse delta / N
	AllocPerConn  float64       // bytes: HeapAlloc+StackInuse delta / N
	RSSPerConn    float64       // bytes
	StackPerConn  float64       // bytes: StackInuse delta / N
	Goroutines    int           // server goroutines with N idle clients
	LoadAvg       string        // /proc/loadavg at the end of the run
	Idle          bool          // no publishing (-dur 0): memory only
	// PublishersApart: the publishers ran in a process of their own
	// (-publisher-process), whose CPU is in ClientCPU.
	PublishersApart bool `json:",omitempty"`
}

func (r result) deliveriesPerSec() float64 {
	return float64(r.Delivered) / max(r.Elapsed.Seconds(), 1e-9)
}
func (r result) cpuPerMillion() float64 {
	if r.Delivered == 0 {
		return 0
	}
	return r.ServerCPU / float64(r.Delivered) * 1e6
}

// lost is the deliveries that never arrived or arrived out of sequence.
func (r result) lost() int64 { return max(r.Expected-r.Delivered, 0) + r.Gaps }

// check validates the flags.
func (cfg config) check() error {
	switch cfg.Publish {
	case "http", "create", "broker":
	default:
		return fmt.Errorf("bad -publish %q", cfg.Publish)
	}
	switch cfg.Target {
	case "ssotws":
	case "centrifugo":
		if cfg.Publish != "http" || cfg.InProcess {
			return fmt.Errorf("-target centrifugo publishes through its HTTP API: -publish http, no -inprocess")
		}
	default:
		return fmt.Errorf("bad -target %q: ssotws or centrifugo", cfg.Target)
	}
	if cfg.PublisherProcess && cfg.Publish != "http" {
		return fmt.Errorf("-publisher-process needs -publish http")
	}
	if cfg.Channels > 1 && cfg.Publish != "http" {
		return fmt.Errorf("-channels needs -publish http")
	}
	return nil
}

// targetChannel returns the channel of room for the target.
func targetChannel(target, room string) string {
	if target == "centrifugo" {
		return room
	}
	return chatv1ssotws.MessageChannels.Room(room)
}

func runOne(ctx context.Context, cfg config, n int) (result, error) {
	res := result{Target: cfg.Target, Label: cfg.Label, N: n, Channels: cfg.Channels, Workers: cfg.Workers, Idle: cfg.Dur <= 0, PublishersApart: cfg.PublisherProcess}
	rate := cfg.Rate
	if rate <= 0 && n > 0 {
		rate = min(cfg.Load/float64(n), cfg.MaxRate)
	}
	res.Rate = rate

	srv, err := startServer(cfg)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	base := "http://" + srv.addr
	logf("%s N=%d: server pid %d at %s; rate %.0f events/s", cfg.Target, n, srv.pid, srv.addr, rate)

	m0, err := fetchGoMem(base)
	if err != nil {
		return res, err
	}
	rss0, _ := procRSS(srv.pid)

	var recordFrom atomic.Int64
	recordFrom.Store(1 << 62) // nothing measured until the measured phase
	t := time.Now()
	dial := dialFunc(dialClient)
	if cfg.Target == "centrifugo" {
		dial = dialCentrifugo
	}
	channel := func(i int) string { return targetChannel(cfg.Target, roomOf(cfg.Room, cfg.Channels, i)) }
	clients, err := dialAll(ctx, dial, srv.addr, channel, n, cfg.DialWorkers, &recordFrom)
	if err != nil {
		return res, err
	}
	defer closeAll(clients)
	logf("N=%d: %d clients subscribed in %s", n, n, time.Since(t).Round(time.Millisecond))

	// Idle memory: both servers collect garbage (pprof's gc=1), then RSS.
	time.Sleep(time.Second)
	m1, err := fetchGoMem(base)
	if err != nil {
		return res, err
	}
	rss1, _ := procRSS(srv.pid)
	if cfg.Target == "ssotws" {
		st, err := fetchStats(base)
		if err != nil {
			return res, err
		}
		if st.Conns != n {
			return res, fmt.Errorf("server has %d connections, want %d", st.Conns, n)
		}
	}
	if n > 0 {
		fn := float64(n)
		res.HeapPerConn = (float64(m1.HeapInuse+m1.StackInuse) - float64(m0.HeapInuse+m0.StackInuse)) / fn
		res.AllocPerConn = (float64(m1.HeapAlloc+m1.StackInuse) - float64(m0.HeapAlloc+m0.StackInuse)) / fn
		res.RSSPerConn = float64(rss1-rss0) / fn
		res.StackPerConn = (float64(m1.StackInuse) - float64(m0.StackInuse)) / fn
		logf("N=%d: idle server: heap in use %+.1f KiB, heap live %+.1f KiB, stacks %+.1f KiB, RSS %+.1f KiB per connection; %d goroutines",
			n, (float64(m1.HeapInuse)-float64(m0.HeapInuse))/fn/1024, (float64(m1.HeapAlloc)-float64(m0.HeapAlloc))/fn/1024,
			res.StackPerConn/1024, res.RSSPerConn/1024, m1.Goroutines)
	}
	res.Goroutines = m1.Goroutines
	if cfg.Profile != "" {
		if err := fetchToFile(base+"/debug/pprof/heap", filepath.Join(cfg.Profile, fmt.Sprintf("heap-%s-%d.pprof", cfg.Target, n))); err != nil {
			return res, err
		}
	}
	if res.Idle {
		res.LoadAvg = loadAverage()
		return res, nil
	}

	pub := newPublisher(cfg, base)
	if cfg.PublisherProcess {
		pub = processPublisher(cfg, base)
	}
	// Warm-up, unmeasured.
	if cfg.Warmup > 0 {
		if _, err := pub(ctx, rate, cfg.Warmup); err != nil {
			return res, err
		}
		waitQuiet(clients, func(c *client) int64 { return c.events.Load() }, -1, 500*time.Millisecond)
	}

	// Measured phase.
	var events0, frames0 int64
	for _, c := range clients {
		events0 += c.events.Load()
		frames0 += c.frames.Load()
	}
	var profWG sync.WaitGroup
	var profErr error
	if cfg.Profile != "" {
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			secs := int(cfg.Dur.Seconds())
			profErr = fetchToFile(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, max(secs, 1)),
				filepath.Join(cfg.Profile, fmt.Sprintf("cpu-%s-%d.pprof", cfg.Target, n)))
		}()
	}
	user0, sys0, err := procCPUSplit(srv.pid)
	if err != nil {
		return res, err
	}
	self0 := selfCPU()
	machine0 := machineCPU()
	start := time.Now()
	recordFrom.Store(start.UnixNano())
	ps, err := pub(ctx, rate, cfg.Dur)
	if err != nil {
		return res, err
	}
	res.Published = ps.total()
	res.Achieved = float64(res.Published) / max(ps.Elapsed.Seconds(), cfg.Dur.Seconds())
	res.AckP50, res.AckP99 = ps.ackQuantile(0.50), ps.ackQuantile(0.99)
	res.Expected = expectedDeliveries(ps.PerRoom, n)
	waitQuiet(clients, func(c *client) int64 { return c.measured.Load() }, res.Expected, time.Second)
	user1, sys1, _ := procCPUSplit(srv.pid)
	res.ServerCPU = user1 + sys1 - user0 - sys0
	res.ServerSys = sys1 - sys0
	res.ClientCPU = selfCPU() - self0
	if !cfg.InProcess {
		res.OtherCPU = max(0, machineCPU()-machine0-res.ServerCPU-res.ClientCPU)
	}
	res.Window = time.Since(start)
	res.LoadAvg = loadAverage()
	profWG.Wait()
	if profErr != nil {
		return res, profErr
	}

	var last int64
	var events1, frames1 int64
	for _, c := range clients {
		res.Delivered += c.measured.Load()
		res.Gaps += c.gaps.Load()
		last = max(last, c.lastRecv.Load())
		events1 += c.events.Load()
		frames1 += c.frames.Load()
	}
	res.Elapsed = time.Duration(last - start.UnixNano())
	if res.Elapsed <= 0 {
		res.Elapsed = cfg.Dur
	}
	res.Frames = frames1 - frames0

	closeAll(clients)
	closeCodes := map[int]int{}
	var lat []uint32
	for _, c := range clients {
		lat = append(lat, c.lat...)
		if c.closeCode > 0 && c.closeCode != 1000 && c.closeCode != 1001 {
			res.Closed++
			closeCodes[int(c.closeCode)]++
		}
	}
	if len(closeCodes) > 0 {
		logf("N=%d: the server closed %d clients during the run, by close code: %v", n, res.Closed, closeCodes)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		q := func(p float64) time.Duration {
			return time.Duration(lat[min(len(lat)-1, int(p*float64(len(lat))))]) * time.Microsecond
		}
		res.P50, res.P99, res.Max = q(0.50), q(0.99), time.Duration(lat[len(lat)-1])*time.Microsecond
	}
	logf("%s N=%d: published %d (ack p50 %s), delivered %d/%d in %s (%.0f/s, %.2f events/frame), p50 %s p99 %s, server CPU %.2fs (%.0f%% system; %.2f s/M), load generator CPU %.2fs, other processes %.2fs of %.2fs, load average %s",
		cfg.Target, n, res.Published, res.AckP50, res.Delivered, res.Expected, res.Elapsed.Round(time.Millisecond), res.deliveriesPerSec(),
		float64(events1-events0)/float64(max(res.Frames, 1)), res.P50, res.P99, res.ServerCPU, 100*res.ServerSys/max(res.ServerCPU, 1e-9), res.cpuPerMillion(),
		res.ClientCPU, res.OtherCPU, float64(numCPU())*res.Window.Seconds(), res.LoadAvg)
	return res, nil
}

// expectedDeliveries is the deliveries owed for perRoom publishes when n
// subscribers are spread over len(perRoom) rooms as roomOf does.
func expectedDeliveries(perRoom []int64, n int) int64 {
	rooms := len(perRoom)
	var want int64
	for r, p := range perRoom {
		subs := n / rooms
		if r < n%rooms {
			subs++
		}
		want += p * int64(subs)
	}
	return want
}

// waitQuiet waits until the sum of count over clients reaches want (when
// want >= 0) or stops growing for quiet, at most 60 s.
func waitQuiet(clients []*client, count func(*client) int64, want int64, quiet time.Duration) {
	deadline := time.Now().Add(60 * time.Second)
	var prev int64 = -1
	changed := time.Now()
	for time.Now().Before(deadline) {
		var sum int64
		for _, c := range clients {
			sum += count(c)
		}
		if want >= 0 && sum >= want {
			return
		}
		if sum != prev {
			prev, changed = sum, time.Now()
		} else if time.Since(changed) >= quiet {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetchStats reads the bench server's /bench/stats (without collecting
// garbage: memory is read from /debug/pprof, as for Centrifugo).
func fetchStats(base string) (serverStats, error) {
	var st serverStats
	resp, err := http.Get(base + "/bench/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

func fetchToFile(u, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| N | events/s published | deliveries | delivered/s | events/frame | p50 | p99 | max | server CPU s (system) | **server CPU-s / M deliveries** | server CPU µs / message | load-gen CPU s | other procs CPU s | **heap+stack / idle conn** | heap alloc / idle conn | RSS / idle conn | server goroutines | gaps / closed |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %d | %.0f | %d / %d | %.0f | %.2f | %s | %s | %s | %.2f (%.0f%%) | **%.2f** | %.1f | %.2f | %.2f | **%.1f KiB** | %.1f KiB | %.1f KiB | %d | %d / %d |\n",
			r.N, r.Achieved, r.Delivered, r.Expected, r.deliveriesPerSec(),
			float64(r.Delivered)/float64(max(r.Frames, 1)), fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.Max),
			r.ServerCPU, 100*r.ServerSys/max(r.ServerCPU, 1e-9), r.cpuPerMillion(), r.ServerCPU/float64(max(r.Frames, 1))*1e6, r.ClientCPU, r.OtherCPU, r.HeapPerConn/1024, r.AllocPerConn/1024, r.RSSPerConn/1024,
			r.Goroutines, r.Gaps, r.Closed)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: N clients
// and N server sockets need more than the usual 1024.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
