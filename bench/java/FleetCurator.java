// The fan-out bench's Curator fleet (bench/fleet.py compiles and starts it): SESSIONS
// CuratorFrameworks in this one JVM, each with a Curator 5 ServiceCache of NAME under BASE.
//
// Usage: java FleetCurator CONNECTION BASE NAME SESSIONS EXPECTED
// Prints "ready RSS_BYTES_PER_CLIENT HEAP_BYTES_PER_VIEW" (the heap after GC that the caches
// took, the first left out when there are others: it pays for class loading) once every cache holds EXPECTED
// instances; then, per stdin line "expect I add|remove|update ID", answers "armed" at once
// and, when every cache has the change, "done I T1 T2 ...": the wall-clock time (ns since
// the epoch) at which each cache's listener first saw it.  "quit" closes everything.
// The same protocol as bench/fleet_worker.py.
//
// For the herd bench (bench/herds.py), options after the five arguments: timeout=MS (the
// session timeout, default 30000) and register=NAME first=N: each session also registers
// itself with its ServiceDiscovery as an instance of NAME with the id "cK", K = N + i.
// Then a stdin line "status [+ID|-ID ...]" is answered with "status CONNECTED VIEWS_OK -1 DROPPED":
// how many clients are connected, how many caches hold exactly the EXPECTED instances
// p00000 ... with the named ones added (+) or taken out (-); -1 since a ServiceCache does not
// say whether it has re-read after a session loss; how many clients went SUSPENDED or LOST
// since the last "mark" line (answered "marked").
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.details.ServiceCacheListener;

public class FleetCurator {
    static final Object LOCK = new Object();
    static int number = -1;
    static String kind = null;
    static String id = null;
    static long[] seen;
    static int seenCount;
    static CountDownLatch allSeen;
    static int[] drops, dropsMarked;

    static long nowNs() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    static long rss() throws Exception {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return 0;
    }

    static long heapUsed() {
        Runtime r = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) System.gc();
        return r.totalMemory() - r.freeMemory();
    }

    @SuppressWarnings("rawtypes")
    static void waitLoaded(List<ServiceCache<Map>> caches, int expected) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 120_000;
        for (ServiceCache<Map> cache : caches) {
            while (cache.getInstances().size() != expected) {
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("caches never loaded");
                Thread.sleep(10);
            }
        }
    }

    @SuppressWarnings("rawtypes")
    static boolean hasChange(ServiceCache<Map> cache, int n, String k, String name) {
        ServiceInstance<Map> found = null;
        for (ServiceInstance<Map> si : cache.getInstances()) {
            if (si.getId().equals(name)) found = si;
        }
        if (k.equals("add")) return found != null;
        if (k.equals("remove")) return found == null;
        if (found == null || found.getPayload() == null) return false;
        Object v = found.getPayload().get("v");
        return v instanceof Number && ((Number) v).intValue() == n;
    }

    @SuppressWarnings("rawtypes")
    static void check(int index, ServiceCache<Map> cache) {
        long now = nowNs();
        synchronized (LOCK) {
            if (kind == null || seen[index] != 0) return;
            if (hasChange(cache, number, kind, id)) {
                seen[index] = now;
                seenCount++;
                if (seenCount == seen.length) allSeen.countDown();
            }
        }
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    public static void main(String[] args) throws Exception {
        String connection = args[0], base = args[1], name = args[2];
        int sessions = Integer.parseInt(args[3]), expected = Integer.parseInt(args[4]);
        int timeoutMs = 30000, first = 0;
        String register = null;
        for (int a = 5; a < args.length; a++) {
            String[] kv = args[a].split("=", 2);
            if (kv[0].equals("timeout")) timeoutMs = Integer.parseInt(kv[1]);
            else if (kv[0].equals("register")) register = kv[1];
            else if (kv[0].equals("first")) first = Integer.parseInt(kv[1]);
            else throw new IllegalArgumentException("unknown option " + args[a]);
        }
        seen = new long[sessions];
        drops = new int[sessions];
        dropsMarked = new int[sessions];
        long rssBefore = rss();
        List<CuratorFramework> clients = new ArrayList<>();
        List<ServiceDiscovery<Map>> discoveries = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
            CuratorFramework client = CuratorFrameworkFactory.builder().connectString(connection)
                .sessionTimeoutMs(timeoutMs).connectionTimeoutMs(15000)
                .retryPolicy(new ExponentialBackoffRetry(100, 3)).build();
            final int session = i;
            client.getConnectionStateListenable().addListener((c, state) -> {
                if (state == ConnectionState.SUSPENDED || state == ConnectionState.LOST) {
                    synchronized (LOCK) {
                        drops[session]++;
                    }
                }
            });
            client.start();
            client.blockUntilConnected();
            ServiceDiscovery<Map> discovery = ServiceDiscoveryBuilder.builder(Map.class).client(client)
                .basePath(base).serializer(new JsonInstanceSerializer<>(Map.class)).build();
            discovery.start();
            if (register != null) {
                discovery.registerService(ServiceInstance.<Map>builder().name(register).id("c" + (first + i))
                    .address("10.78." + ((first + i) / 256 % 256) + "." + ((first + i) % 256)).port(8080).build());
            }
            clients.add(client);
            discoveries.add(discovery);
        }
        long heapBefore = 0;
        List<ServiceCache<Map>> caches = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
            if (i == 1 || sessions == 1) {  // the first cache warms up (class loading): not counted if others
                if (i == 1) waitLoaded(caches, expected);
                heapBefore = heapUsed();
            }
            ServiceCache<Map> cache = discoveries.get(i).serviceCacheBuilder().name(name).build();
            final int index = i;
            cache.addListener(new ServiceCacheListener() {
                @Override
                public void cacheChanged() {
                    check(index, cache);
                }

                @Override
                public void stateChanged(CuratorFramework c, ConnectionState s) {
                }
            });
            cache.start();
            caches.add(cache);
        }
        waitLoaded(caches, expected);
        long perView = (heapUsed() - heapBefore) / Math.max(1, sessions - 1);
        long perClient = (rss() - rssBefore) / sessions;
        System.out.println("ready " + perClient + " " + perView);
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split(" ");
            if (w[0].equals("quit")) break;
            if (w[0].equals("status")) {
                Set<String> names = new HashSet<>();
                for (int p = 0; p < expected; p++) names.add(String.format("p%05d", p));
                for (int c = 1; c < w.length; c++) {
                    if (w[c].startsWith("+")) names.add(w[c].substring(1));
                    else if (w[c].startsWith("-")) names.remove(w[c].substring(1));
                }
                int connected = 0, right = 0;
                for (CuratorFramework c : clients) {
                    if (c.getZookeeperClient().isConnected()) connected++;
                }
                for (ServiceCache<Map> cache : caches) {
                    Set<String> have = new HashSet<>();
                    for (ServiceInstance<Map> si : cache.getInstances()) have.add(si.getId());
                    if (have.equals(names)) right++;
                }
                int dropped = 0;
                synchronized (LOCK) {
                    for (int d = 0; d < sessions; d++) if (drops[d] > dropsMarked[d]) dropped++;
                }
                System.out.println("status " + connected + " " + right + " -1 " + dropped);
                System.out.flush();
                continue;
            }
            if (w[0].equals("mark")) {
                synchronized (LOCK) {
                    dropsMarked = drops.clone();
                }
                System.out.println("marked");
                System.out.flush();
                continue;
            }
            if (!w[0].equals("expect")) continue;
            synchronized (LOCK) {
                number = Integer.parseInt(w[1]);
                kind = w[2];
                id = w[3];
                java.util.Arrays.fill(seen, 0L);
                seenCount = 0;
                allSeen = new CountDownLatch(1);
            }
            System.out.println("armed");
            System.out.flush();
            if (!allSeen.await(60, TimeUnit.SECONDS)) {
                System.out.println("error change " + number + " seen by " + seenCount + " of " + sessions);
                System.out.flush();
                System.exit(1);
            }
            StringBuilder done = new StringBuilder("done ").append(number);
            synchronized (LOCK) {
                for (long t : seen) done.append(' ').append(t);
            }
            System.out.println(done);
            System.out.flush();
        }
        for (ServiceCache<Map> cache : caches) cache.close();
        for (ServiceDiscovery<Map> d : discoveries) d.close();
        for (CuratorFramework c : clients) c.close();
        System.out.println("ok");
        System.out.flush();
    }
}
