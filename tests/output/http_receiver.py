#!/usr/bin/env python3
"""http_receiver.py - the HTTP counterpart of tests/output/run.sh.

    http_receiver.py DIR [PORT] [--tls CERT KEY]

Listens on 127.0.0.1:PORT (0: a free port), writes the port to DIR/port
when it accepts (the readiness signal), and logs every request as one JSON
line in DIR/requests.jsonl: path, status, Authorization and Content-Type
headers, body.  Answers 500 while DIR/fail exists (an outage), else 200
with a reply in the form asked (Elasticsearch _bulk or Splunk HEC).
"""
import http.server
import json
import os
import signal
import ssl
import sys

DIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        status = 500 if os.path.exists(os.path.join(DIR, "fail")) else 200
        with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
            f.write(json.dumps({"path": self.path, "status": status,
                                "auth": self.headers.get("Authorization"),
                                "ctype": self.headers.get("Content-Type"),
                                "body": body}) + "\n")
        if status != 200:
            reply = b'{"error":"outage"}'
        elif "_bulk" in self.path:
            reply = json.dumps({"errors": False, "items": []}).encode()
        else:
            reply = b'{"text":"Success","code":0}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


srv = http.server.HTTPServer(("127.0.0.1", PORT), Handler)
if "--tls" in sys.argv:
    i = sys.argv.index("--tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
tmp = os.path.join(DIR, "port.tmp")
with open(tmp, "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(tmp, os.path.join(DIR, "port"))
srv.serve_forever()
