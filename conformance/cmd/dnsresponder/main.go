// Command dnsresponder stands in for CoreDNS in the local cluster: the
// Gateway API UDP tests only need a DNS server behind a UDPRoute that
// answers. It answers every A query on UDP and TCP port 53 (or -port) with
// the address in $POD_IP, or 127.0.0.1, and logs each query. Any other
// arguments (CoreDNS's -conf) are accepted and ignored.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"

	"github.com/miekg/dns"
)

func main() {
	fs := flag.NewFlagSet("dnsresponder", flag.ContinueOnError)
	port := fs.Int("port", 53, "port to serve DNS on (UDP and TCP)")
	_ = fs.String("conf", "", "ignored (CoreDNS's configuration file)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	answer := net.ParseIP(os.Getenv("POD_IP"))
	if answer == nil {
		answer = net.IPv4(127, 0, 0, 1)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		for _, question := range q.Question {
			log.Printf("query %s %s from %s", dns.TypeToString[question.Qtype], question.Name, w.RemoteAddr())
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
					A:   answer,
				})
			}
		}
		if err := w.WriteMsg(m); err != nil {
			log.Printf("reply: %v", err)
		}
	})
	addr := ":" + strconv.Itoa(*port)
	errs := make(chan error, 2)
	for _, network := range []string{"udp", "tcp"} {
		go func() {
			errs <- (&dns.Server{Addr: addr, Net: network, Handler: handler}).ListenAndServe()
		}()
	}
	fmt.Printf("serving DNS on %s (udp, tcp)\n", addr)
	log.Fatal(<-errs)
}
