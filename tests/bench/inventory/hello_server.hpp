// The HTTP baseline: a hello-world cpp-httplib server configured like the daemon's
// (same worker pool size, TCP_NODELAY, keep-alive limits) that answers every POST and
// GET with a tiny JSON body and does nothing else. The benchmark runs it as a child
// process, as it runs the daemon, so both pay the same process and loopback costs.
#pragma once

namespace shopeasy::bench {

// Serves on 127.0.0.1 on a free port with `threads` workers until the process is
// killed. Prints "event=started http_port=N" on stderr once listening, like the
// daemons. With `tuned`, lifts the library's two connection limits the daemon keeps
// (at most 5 requests per keep-alive connection, a listen backlog of 5) to show what
// they cost. Returns a non-zero exit code if it cannot bind.
int run_hello_server(int threads, bool tuned);

}  // namespace shopeasy::bench
