// libFuzzer target: any bytes as one HTTP request to the HTTPS /metrics endpoint (after TLS), parsed with the
// server's header limit and answered as the server would, with basic auth on. Only a request that carries
// the exact credential may get 200.
#include "../exporters/src/metrics_https.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string expected = "Basic dXNlcjpwYXNz";  // user:pass
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const int status = flowguard::exporters::https_metrics_response_status(
        bytes, expected, [](std::string& body) { body = "flowguard_build_info 1\n"; });
    if (status == 200 && bytes.find(expected) == std::string_view::npos) __builtin_trap();
    return 0;
}
