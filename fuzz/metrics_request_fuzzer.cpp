// libFuzzer target: any bytes as one HTTP request to the /metrics endpoint (after TLS, if any), parsed with the
// server's header limit and answered as the server would, with basic auth on. Only a request that carries
// the exact credential may get 200.
#include "../exporters/src/metrics_server.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const flowguard::exporters::BasicAuth auth("user", "pass");
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const int status = flowguard::exporters::metrics_response_status(
        bytes, auth, [](std::string& body) { body = "flowguard_build_info 1\n"; });
    // The credential (user:pass) may come with the scheme in any case, but only as this token.
    if (status == 200 && bytes.find("dXNlcjpwYXNz") == std::string_view::npos) __builtin_trap();
    return 0;
}
