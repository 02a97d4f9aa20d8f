// Driver benchmark, gocql side, and the schema/data setup for every driver.
//
//	gocql-bench setup
//	gocql-bench [-conns N] [-nocoalesce] WORKLOAD INFLIGHT COUNT WARMUP
//
// setup creates the bench_drivers keyspace and its tables, writes the keys
// the SELECT workload reads, and loads the 1,000,000-row scan table unless
// its marker row says it is already there. A benchmark run prints one line
// "RESULT {json}"; see bench/drivers/README.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gocql/gocql"
)

const (
	keyspace     = "bench_drivers"
	selectKeys   = 10000
	scanParts    = 1000
	scanPerPart  = 1000
	scanRows     = scanParts * scanPerPart
	loadBatch    = 100
	loadInflight = 32
)

var value = strings.Repeat("v", 64)

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "gocql-bench: "+format+"\n", a...)
	os.Exit(1)
}

func newCluster(ks string, conns int) *gocql.ClusterConfig {
	c := gocql.NewCluster("127.0.0.1")
	c.Keyspace = ks
	c.Consistency = gocql.LocalOne
	c.ProtoVersion = 4 // the newest gocql v1 speaks
	c.Timeout = 10 * time.Second
	c.ConnectTimeout = 10 * time.Second
	if conns > 0 {
		c.NumConns = conns
	}
	return c
}

func setup() {
	admin, err := newCluster("", 0).CreateSession()
	if err != nil {
		die("connect: %v", err)
	}
	defer admin.Close()
	ddl := []string{
		"CREATE KEYSPACE IF NOT EXISTS " + keyspace +
			" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"CREATE TABLE IF NOT EXISTS " + keyspace + ".kv (k int PRIMARY KEY, v text)",
		"CREATE TABLE IF NOT EXISTS " + keyspace + ".scan (p int, c int, v text, n bigint, PRIMARY KEY (p, c))",
		"CREATE TABLE IF NOT EXISTS " + keyspace + ".meta (name text PRIMARY KEY, n bigint)",
	}
	for _, q := range ddl {
		if err := admin.Query(q).Exec(); err != nil {
			die("%s: %v", q, err)
		}
	}
	s, err := newCluster(keyspace, 0).CreateSession()
	if err != nil {
		die("connect: %v", err)
	}
	defer s.Close()
	var n int64
	if err := s.Query("SELECT n FROM meta WHERE name = 'kv_keys'").Scan(&n); err != nil || n != selectKeys {
		for k := 0; k < selectKeys; k++ {
			if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", k, value).Exec(); err != nil {
				die("insert kv: %v", err)
			}
		}
		if err := s.Query("INSERT INTO meta (name, n) VALUES ('kv_keys', ?)", int64(selectKeys)).Exec(); err != nil {
			die("marker: %v", err)
		}
	}
	n = 0
	if err := s.Query("SELECT n FROM meta WHERE name = 'scan_rows'").Scan(&n); err == nil && n == scanRows {
		fmt.Printf("setup: the scan table already holds %d rows (marker row); not loading\n", n)
		return
	}
	fmt.Printf("setup: loading %d rows into %s.scan (unlogged batches of %d rows of one partition, %d in flight)\n",
		scanRows, keyspace, loadBatch, loadInflight)
	t0 := time.Now()
	var next int64 = -1
	var wg sync.WaitGroup
	var failed atomic.Value
	batches := int64(scanRows / loadBatch)
	for w := 0; w < loadInflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := atomic.AddInt64(&next, 1)
				if b >= batches || failed.Load() != nil {
					return
				}
				first := int(b) * loadBatch
				p := first / scanPerPart
				batch := s.NewBatch(gocql.UnloggedBatch)
				for i := 0; i < loadBatch; i++ {
					c := (first + i) % scanPerPart
					batch.Query("INSERT INTO scan (p, c, v, n) VALUES (?, ?, ?, ?)",
						p, c, fmt.Sprintf("row-%d-%d", p, c), int64(p*scanPerPart+c))
				}
				if err := s.ExecuteBatch(batch); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		die("load: %v", err)
	}
	if err := s.Query("INSERT INTO meta (name, n) VALUES ('scan_rows', ?)", int64(scanRows)).Exec(); err != nil {
		die("marker: %v", err)
	}
	fmt.Printf("setup: loaded in %.1f s\n", time.Since(t0).Seconds())
}

func rusage() (cpu float64, maxrssKB int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		die("getrusage: %v", err)
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)*1e-6 }
	return tv(ru.Utime) + tv(ru.Stime), ru.Maxrss
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// run does n requests with inflight goroutines each looping; req(i) does
// request i. Latencies (seconds) go into lat when it is not nil.
func run(n, inflight int, lat []float64, req func(i int) error) {
	var next int64 = -1
	var wg sync.WaitGroup
	var failed atomic.Value
	if inflight > n {
		inflight = n
	}
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				i := int(atomic.AddInt64(&next, 1))
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := req(i); err != nil {
					failed.Store(err)
					return
				}
				if lat != nil {
					lat[i] = time.Since(t0).Seconds()
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		die("request failed: %v", err)
	}
}

func main() {
	conns := flag.Int("conns", 0, "connections per host (0: gocql's default)")
	noCoalesce := flag.Bool("nocoalesce", false, "WriteCoalesceWaitTime 0 (gocql's default waits 200 us to coalesce writes)")
	flag.Parse()
	a := flag.Args()
	if len(a) == 1 && a[0] == "setup" {
		setup()
		return
	}
	if len(a) != 4 {
		die("usage: gocql-bench setup | gocql-bench [-conns N] [-nocoalesce] WORKLOAD INFLIGHT COUNT WARMUP")
	}
	workload := a[0]
	inflight, _ := strconv.Atoi(a[1])
	count, _ := strconv.Atoi(a[2])
	warmup, _ := strconv.Atoi(a[3])
	cfg := newCluster(keyspace, *conns)
	if *noCoalesce {
		cfg.WriteCoalesceWaitTime = 0
	}
	s, err := cfg.CreateSession()
	if err != nil {
		die("connect: %v", err)
	}
	defer s.Close()

	var lat []float64
	var cpu0, cpu1, wall float64
	var rss int64
	n := count
	switch workload {
	case "insert", "select":
		var req func(i int) error
		if workload == "insert" {
			req = func(i int) error {
				return s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", i%100000, value).Exec()
			}
		} else {
			req = func(i int) error {
				var k int
				var v string
				return s.Query("SELECT k, v FROM kv WHERE k = ?", i%selectKeys).Scan(&k, &v)
			}
		}
		run(warmup, inflight, nil, req)
		lat = make([]float64, count)
		cpu0, _ = rusage()
		t0 := time.Now()
		run(count, inflight, lat, req)
		wall = time.Since(t0).Seconds()
		cpu1, rss = rusage()
	case "scan":
		inflight = 1
		if warmup > 0 {
			it := s.Query("SELECT p, c, v, n FROM scan").PageSize(5000).Iter()
			var p, c int
			var v string
			var nn int64
			for i := 0; i < warmup && it.Scan(&p, &c, &v, &nn); i++ {
			}
			_ = it.Close()
		}
		cpu0, _ = rusage()
		t0 := time.Now()
		it := s.Query("SELECT p, c, v, n FROM scan").PageSize(5000).Iter()
		var p, c int
		var v string
		var nn int64
		rows, sum := 0, 0
		t := time.Now()
		for it.Scan(&p, &c, &v, &nn) {
			rows++
			sum += c
			if rows%5000 == 0 {
				t1 := time.Now()
				lat = append(lat, t1.Sub(t).Seconds())
				t = t1
			}
		}
		if err := it.Close(); err != nil {
			die("scan: %v", err)
		}
		wall = time.Since(t0).Seconds()
		cpu1, rss = rusage()
		if rows != count || sum != count/1000*499500 {
			die("scan returned %d rows (checksum %d), expected %d", rows, sum, count)
		}
		n = rows
	default:
		die("unknown workload %s", workload)
	}
	sort.Float64s(lat)
	name := "gocql"
	nconns := cfg.NumConns
	if *conns > 0 {
		name = fmt.Sprintf("gocql-%dconn", *conns)
	}
	if *noCoalesce {
		name += "-nocoalesce"
	}
	out, _ := json.Marshal(map[string]any{
		"driver": name, "workload": workload, "inflight": inflight, "n": n, "wall_s": wall,
		"cpu_s": cpu1 - cpu0, "p50_us": percentile(lat, 0.5) * 1e6, "p99_us": percentile(lat, 0.99) * 1e6,
		"maxrss_kb": rss, "conns": nconns, "protocol": cfg.ProtoVersion,
	})
	fmt.Printf("RESULT %s\n", out)
}
