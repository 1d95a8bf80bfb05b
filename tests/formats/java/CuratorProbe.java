// A real Curator 5 service-discovery client for the interoperability tests.
//
// Usage: java CuratorProbe CONNECTION BASEPATH, then one command per line on stdin,
// one reply line on stdout ("ok ...", a JSON document, or "error <exception>"):
//   register NAME ID ADDRESS PORT PAYLOAD_JSON   register an instance (Map payload)
//   unregister NAME ID                           unregister it
//   list NAME                                    queryForInstances, as a JSON array
//   names                                        queryForNames, as a JSON array
//   watch NAME                                   start a ServiceCache for NAME
//   cache NAME                                   the cache's instances, as a JSON array
//   parse BASE64                                 deserialize bytes with JsonInstanceSerializer(Map)
//   serialize NAME ID ADDRESS PORT TIME PAYLOAD_JSON   the bytes Curator writes, base64
//   quit
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;

public class CuratorProbe {
    static final ObjectMapper MAPPER = new ObjectMapper();

    @SuppressWarnings({"rawtypes", "unchecked"})
    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.builder().connectString(args[0])
            .sessionTimeoutMs(4000).connectionTimeoutMs(4000).retryPolicy(new ExponentialBackoffRetry(100, 3)).build();
        client.start();
        client.blockUntilConnected();
        JsonInstanceSerializer<Map> serializer = new JsonInstanceSerializer<>(Map.class);
        ServiceDiscovery<Map> discovery = ServiceDiscoveryBuilder.builder(Map.class).client(client)
            .basePath(args[1]).serializer(serializer).build();
        discovery.start();
        Map<String, ServiceInstance<Map>> registered = new HashMap<>();
        Map<String, ServiceCache<Map>> caches = new HashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        System.out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.split(" ", 6);
            String reply;
            try {
                switch (w[0]) {
                    case "register": {
                        Map payload = MAPPER.readValue(w[5], LinkedHashMap.class);
                        ServiceInstance<Map> si = ServiceInstance.<Map>builder().name(w[1]).id(w[2]).address(w[3])
                            .port(Integer.parseInt(w[4])).payload(payload).build();
                        discovery.registerService(si);
                        registered.put(w[1] + "/" + w[2], si);
                        reply = "ok";
                        break;
                    }
                    case "unregister":
                        discovery.unregisterService(registered.remove(w[1] + "/" + w[2]));
                        reply = "ok";
                        break;
                    case "list":
                        reply = MAPPER.writeValueAsString(describe(discovery.queryForInstances(w[1])));
                        break;
                    case "names":
                        reply = MAPPER.writeValueAsString(discovery.queryForNames());
                        break;
                    case "watch": {
                        ServiceCache<Map> cache = discovery.serviceCacheBuilder().name(w[1]).build();
                        cache.start();
                        caches.put(w[1], cache);
                        reply = "ok";
                        break;
                    }
                    case "cache":
                        reply = MAPPER.writeValueAsString(describe(caches.get(w[1]).getInstances()));
                        break;
                    case "parse": {
                        ServiceInstance<Map> si = serializer.deserialize(Base64.getDecoder().decode(w[1]));
                        reply = MAPPER.writeValueAsString(describe(List.of(si)).get(0));
                        break;
                    }
                    case "serialize": {
                        String[] rest = w[5].split(" ", 2);  // TIME PAYLOAD_JSON
                        Map payload = MAPPER.readValue(rest[1], LinkedHashMap.class);
                        ServiceInstance<Map> si = ServiceInstance.<Map>builder().name(w[1]).id(w[2]).address(w[3])
                            .port(Integer.parseInt(w[4])).registrationTimeUTC(Long.parseLong(rest[0]))
                            .payload(payload).build();
                        reply = Base64.getEncoder().encodeToString(serializer.serialize(si));
                        break;
                    }
                    case "quit":
                        for (ServiceCache<Map> cache : caches.values()) cache.close();
                        discovery.close();
                        client.close();
                        System.out.println("ok");
                        System.out.flush();
                        return;
                    default:
                        reply = "error unknown command " + w[0];
                }
            } catch (Exception e) {
                reply = "error " + e.toString().replace('\n', ' ');
            }
            System.out.println(reply);
            System.out.flush();
        }
    }

    @SuppressWarnings("rawtypes")
    static List<Map<String, Object>> describe(Collection<ServiceInstance<Map>> instances) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ServiceInstance<Map> si : instances) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("name", si.getName());
            d.put("id", si.getId());
            d.put("address", si.getAddress());
            d.put("port", si.getPort());
            d.put("sslPort", si.getSslPort());
            d.put("payload", si.getPayload());
            d.put("payloadClass", si.getPayload() == null ? null : si.getPayload().getClass().getName());
            d.put("serviceType", si.getServiceType().toString());
            d.put("enabled", si.isEnabled());
            d.put("uriSpec", si.getUriSpec() == null ? null : si.getUriSpec().build(si));
            out.add(d);
        }
        out.sort((a, b) -> String.valueOf(a.get("id")).compareTo(String.valueOf(b.get("id"))));
        return out;
    }
}
