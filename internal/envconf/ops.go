package envconf

// Ops declares a stage binary's ops port, <PREFIX>_HTTP_ADDR (loopback on
// port by default; a container sets ":port"), and <PREFIX>_PPROF, which
// serves /debug/pprof there.
func Ops(prefix, port string, addr *string, pprof *bool) []Var {
	return []Var{
		V(prefix+"_HTTP_ADDR", addr, "127.0.0.1:"+port,
			"the binary's ops port, `host:port`: `/healthz`, `/readyz`, `/metrics`, and `/debug/pprof/` with "+
				prefix+"_PPROF=1; loopback by default (a container sets `:"+port+"`)"),
		V(prefix+"_PPROF", pprof, false,
			"serve `/debug/pprof/` on the ops port (profiles and the command line: keep it off on a shared network)"),
	}
}
