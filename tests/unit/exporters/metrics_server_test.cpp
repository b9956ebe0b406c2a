// The /metrics request handling without sockets: basic auth as RFC 7617 has it (scheme in any case, the
// credential compared whatever its length) and the answers to malformed or unauthorised requests.
#include "../../../exporters/src/metrics_server.hpp"

#include <doctest/doctest.h>

#include <string>

using flowguard::exporters::BasicAuth;
using flowguard::exporters::metrics_response_status;

namespace {

const auto kRender = [](std::string& body) { body = "flowguard_build_info 1\n"; };

int status_with(const BasicAuth& auth, const std::string& authorization) {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n" +
                                (authorization.empty() ? "" : "Authorization: " + authorization + "\r\n") + "\r\n";
    return metrics_response_status(request, auth, kRender);
}

}  // namespace

TEST_CASE("basic auth: the scheme in any case, the exact credential only") {
    const BasicAuth auth("prometheus", "s3cret");  // cHJvbWV0aGV1czpzM2NyZXQ=
    CHECK(status_with(auth, "Basic cHJvbWV0aGV1czpzM2NyZXQ=") == 200);
    CHECK(status_with(auth, "basic cHJvbWV0aGV1czpzM2NyZXQ=") == 200);
    CHECK(status_with(auth, "BASIC   cHJvbWV0aGV1czpzM2NyZXQ=") == 200);
    CHECK(status_with(auth, "") == 401);
    CHECK(status_with(auth, "Basic") == 401);
    CHECK(status_with(auth, "Basic ") == 401);
    CHECK(status_with(auth, "Basiccc cHJvbWV0aGV1czpzM2NyZXQ=") == 401);
    CHECK(status_with(auth, "Bearer cHJvbWV0aGV1czpzM2NyZXQ=") == 401);
    CHECK(status_with(auth, "Basic cHJvbWV0aGV1czpzM2NyZXQ") == 401);       // cut
    CHECK(status_with(auth, "Basic cHJvbWV0aGV1czpzM2NyZXQ=AAAA") == 401);  // longer
    CHECK(status_with(auth, "Basic cHJvbWV0aGV1czpzM2NyZQ==") == 401);      // prometheus:s3cre
    CHECK(status_with(auth, "Basic cHJvbWV0aGV1czpzM2NyZXR4") == 401);      // prometheus:s3cretx
    CHECK(status_with(auth, "Basic ****") == 401);
}

TEST_CASE("without auth every well-formed GET /metrics is answered; other paths, methods and junk are not") {
    const BasicAuth none;
    CHECK(status_with(none, "") == 200);
    CHECK(metrics_response_status("GET /other HTTP/1.1\r\nHost: x\r\n\r\n", none, kRender) == 404);
    CHECK(metrics_response_status("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", none, kRender) ==
          405);
    CHECK(metrics_response_status("GET /metrics HTTP/1.1\r\n", none, kRender) == 0);  // incomplete
    CHECK(metrics_response_status(std::string(20000, 'A'), none, kRender) == 0);
}

TEST_CASE("an exposition that fails answers 500 with the reason, not a closed connection") {
    const BasicAuth none;
    const flowguard::exporters::MetricsHttpServer::Render failing = [](std::string&) {
        throw std::logic_error("metric flowguard_x is not in the catalogue");
    };
    CHECK(metrics_response_status("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", none, failing) == 500);
}
