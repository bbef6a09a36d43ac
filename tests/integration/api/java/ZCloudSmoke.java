import com.fasterxml.jackson.databind.JsonNode;
import io.zcloud.sdk.ApiClient;
import io.zcloud.sdk.ApiException;
import io.zcloud.sdk.ApiResponse;
import io.zcloud.sdk.api.ApiJobsApi;
import io.zcloud.sdk.api.SessionsApi;
import io.zcloud.sdk.api.ZonesApi;
import io.zcloud.sdk.model.CreateZoneBody;
import io.zcloud.sdk.model.ZoneReply;
import io.zcloud.sdk.model.LogIn;
import io.zcloud.sdk.model.SessionInventory;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Drives a live zcloud through the generated Java SDK: log in, create a zone (waiting for its
 * job), query it back by name, log out. One line per step on stdout.
 *
 * <pre>java -cp build/zcloud-sdk.jar:build/sdk-java/lib/*:. ZCloudSmoke BASE_URL ADMIN_PASSWORD [ZONE_NAME]</pre>
 *
 * Exit status: 0 every step passed; 1 the API answered an error or something unexpected;
 * 2 usage; 3 the SDK lacks an operation this program needs (the server does not declare it).
 *
 * <p>Two operations are looked up by reflection instead of called by name: the API-job getter,
 * whose generated name follows the server's operation id, and QueryZone, which exists only once
 * the server declares {@code GET /v1/zones}. This program then still compiles, and says
 * exactly what is missing when it runs.
 */
public final class ZCloudSmoke {
    private static final Duration JOB_DEADLINE = Duration.ofSeconds(30);

    /** A failed step: the message says which and why. */
    static final class Failure extends Exception {
        final int exitCode;

        Failure(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }
    }

    private ZCloudSmoke() {}

    public static void main(String[] args) {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: ZCloudSmoke BASE_URL ADMIN_PASSWORD [ZONE_NAME]");
            System.exit(2);
        }
        String zoneName = args.length == 3 ? args[2] : "java-sdk-" + UUID.randomUUID();
        int status;
        try {
            run(args[0], args[1], zoneName);
            System.out.println("OK");
            status = 0;
        } catch (Failure f) {
            System.out.println("FAIL: " + f.getMessage());
            status = f.exitCode;
        } catch (ApiException e) {
            System.out.println("FAIL: HTTP " + e.getCode() + ": " + e.getResponseBody());
            status = 1;
        }
        System.out.flush();
        System.exit(status);
    }

    static void run(String baseUrl, String password, String zoneName)
            throws ApiException, Failure {
        ApiClient client = new ApiClient();
        // HTTP/1.1: the JDK client's default (HTTP/2) offers a cleartext upgrade (Upgrade: h2c)
        // that the server declines anyway (it serves with h11, which keeps the body; httptools
        // dropped it: Kludex/uvicorn#2722); asking for 1.1 saves the offer.
        client.setHttpClientBuilder(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1));
        client.updateBaseUri(baseUrl);
        client.setConnectTimeout(Duration.ofSeconds(5));
        client.setReadTimeout(Duration.ofSeconds(40));

        // 1. log in: POST /v1/sessions (LogIn)
        SessionInventory session =
                new SessionsApi(client)
                        .logIn(new LogIn().accountName("admin").password(password))
                        .getInventory();
        String token = session.getToken();
        System.out.println(
                "logged in: session=" + session.getUuid() + " account=" + session.getAccountUuid());
        // every API object made from here on sends the session; the spec declares no security
        // scheme, so the bearer token goes on through the client's request interceptor
        client.setRequestInterceptor(b -> b.setHeader("Authorization", "Bearer " + token));

        // 2. create a zone: POST /v1/zones (CreateZone), answered within Prefer: wait=20
        String zoneUuid = UUID.randomUUID().toString(); // stored as given: canonical form
        ApiResponse<ZoneReply> accepted =
                new ZonesApi(client)
                        .createZoneWithHttpInfo(
                                new CreateZoneBody()
                                        .resourceUuid(zoneUuid)
                                        .name(zoneName)
                                        .description("made by the Java SDK smoke test"),
                                Map.of("Prefer", "wait=20"));
        String location = header(accepted, "Location");
        if (location == null || !location.startsWith("/v1/api-jobs/")) {
            throw new Failure(1, "CreateZone answered without a job Location: " + accepted.getHeaders());
        }
        String jobUuid = location.substring("/v1/api-jobs/".length());
        System.out.println(
                "create accepted: HTTP " + accepted.getStatusCode() + " job=" + jobUuid);
        // done within Prefer: wait answers 200 with the typed reply; else the job has it
        JsonNode zone =
                accepted.getStatusCode() == 200
                        ? client.getObjectMapper().valueToTree(accepted.getData().getInventory())
                        : waitJob(client, jobUuid).path("inventory");
        expect(zoneUuid.equals(zone.path("uuid").asText()), "the job's zone is " + zone);
        expect(zoneName.equals(zone.path("name").asText()), "the job's zone is " + zone);
        System.out.println(
                "created zone: uuid=" + zoneUuid + " name=" + zoneName
                        + " state=" + zone.path("state").asText());

        // 3. query it back: GET /v1/zones?q=name=<name> (QueryZone)
        JsonNode reply = queryZones(client, "name=" + zoneName);
        JsonNode inventories = reply.path("inventories");
        long total = reply.path("total").asLong(-1);
        expect(total == 1 && inventories.size() == 1, "QueryZone answered " + reply);
        expect(zoneUuid.equals(inventories.get(0).path("uuid").asText()),
                "QueryZone answered " + reply);
        System.out.println(
                "queried zones: q=name=" + zoneName + " total=" + total
                        + " uuid=" + inventories.get(0).path("uuid").asText());

        // 4. log out: DELETE /v1/sessions/current (LogOut); the token stops working
        new SessionsApi(client).logOut();
        try {
            getJob(client, jobUuid);
            throw new Failure(1, "the session still works after LogOut");
        } catch (ApiException e) {
            expect(e.getCode() == 401, "after LogOut the API answered HTTP " + e.getCode());
        }
        System.out.println("logged out: the session is refused (401)");
    }

    /** The job's result once it succeeded (a failed job raises ApiException with its error). */
    static JsonNode waitJob(ApiClient client, String jobUuid) throws ApiException, Failure {
        long deadline = System.nanoTime() + JOB_DEADLINE.toNanos();
        while (true) {
            ApiResponse<?> job = getJob(client, jobUuid);
            if (job.getStatusCode() == 200) {
                return client.getObjectMapper().valueToTree(job.getData());
            }
            if (System.nanoTime() > deadline) {
                throw new Failure(1, "job " + jobUuid + " not done in " + JOB_DEADLINE);
            }
            sleep(100);
        }
    }

    /** GET /v1/api-jobs/{uuid}: ApiJobsApi's one operation taking a UUID. */
    static ApiResponse<?> getJob(ApiClient client, String jobUuid) throws ApiException, Failure {
        ApiJobsApi api = new ApiJobsApi(client);
        Method get =
                Arrays.stream(ApiJobsApi.class.getMethods())
                        .filter(m -> m.getName().endsWith("WithHttpInfo"))
                        .filter(m -> Arrays.equals(m.getParameterTypes(), new Class<?>[] {String.class}))
                        .findFirst()
                        .orElseThrow(
                                () -> new Failure(3, "the SDK's ApiJobsApi has no get-job operation"));
        return (ApiResponse<?>) invoke(get, api, jobUuid);
    }

    /** ZonesApi.queryZone with its {@code q} condition set and every other option left out. */
    static JsonNode queryZones(ApiClient client, String condition) throws ApiException, Failure {
        List<Method> candidates = new ArrayList<>();
        for (Method m : ZonesApi.class.getMethods()) {
            if (m.getName().equals("queryZone")) {
                candidates.add(m);
            }
        }
        if (candidates.isEmpty()) {
            throw new Failure(
                    3,
                    "the SDK has no QueryZone operation (ZonesApi.queryZone): the server's OpenAPI"
                            + " document declares no GET /v1/zones yet");
        }
        candidates.sort(Comparator.comparingInt(Method::getParameterCount));
        Method query = candidates.get(0);
        Object[] args = new Object[query.getParameterCount()];
        boolean conditionSet = false;
        for (int i = 0; i < args.length; i++) {
            Parameter p = query.getParameters()[i];
            if (!p.isNamePresent()) {
                throw new Failure(3, "the SDK was compiled without -parameters: cannot find 'q'");
            }
            if (p.getName().equals("q")) {
                if (List.class.isAssignableFrom(p.getType())) {
                    args[i] = List.of(condition);
                } else if (p.getType() == String.class) {
                    args[i] = condition;
                } else {
                    throw new Failure(3, "QueryZone's 'q' is a " + p.getType().getName());
                }
                conditionSet = true;
            } else if (p.getName().equals("replyWithCount") && p.getType() == Boolean.class) {
                args[i] = Boolean.TRUE; // ask for the total as well
            } else if (Map.class.isAssignableFrom(p.getType())) {
                args[i] = Map.of();
            } else if (p.getType().isPrimitive()) {
                throw new Failure(3, "QueryZone's '" + p.getName() + "' cannot be left out");
            }
        }
        if (!conditionSet) {
            throw new Failure(3, "QueryZone has no 'q' parameter: " + query);
        }
        return client.getObjectMapper().valueToTree(invoke(query, new ZonesApi(client), args));
    }

    static Object invoke(Method method, Object target, Object... args) throws ApiException, Failure {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof ApiException) {
                throw (ApiException) e.getCause();
            }
            throw new Failure(1, method.getName() + " failed: " + e.getCause());
        } catch (IllegalAccessException e) {
            throw new Failure(1, method.getName() + ": " + e);
        }
    }

    static String header(ApiResponse<?> response, String name) {
        for (Map.Entry<String, List<String>> h : response.getHeaders().entrySet()) {
            if (h.getKey().equalsIgnoreCase(name) && !h.getValue().isEmpty()) {
                return h.getValue().get(0);
            }
        }
        return null;
    }

    static void expect(boolean ok, String message) throws Failure {
        if (!ok) {
            throw new Failure(1, message);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
