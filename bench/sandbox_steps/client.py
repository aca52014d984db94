# One client sending print(1) to /run_code back to back over one keep-alive connection: client.py PORT N
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
body = json.dumps({"code": "print(1)", "language": "python"})
lat = []
for i in range(n):
    t = time.perf_counter()
    c.request("POST", "/run_code", body, {"Content-Type": "application/json"})
    r = c.getresponse(); d = r.read()
    lat.append(time.perf_counter() - t)
    if i == 0: print(d[:200].decode(), file=sys.stderr)
lat.sort()
print("client: n=%d p50 %.2f ms p90 %.2f ms p99 %.2f ms" % (n, lat[n//2]*1e3, lat[n*9//10]*1e3, lat[n*99//100]*1e3))
