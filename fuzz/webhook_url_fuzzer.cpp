// libFuzzer target: any bytes as a webhook URL (alerts.webhooks[].url). Refused only with invalid_argument;
// an accepted URL has a host, a port 1-65535, a path starting with '/', and no byte a request line cannot hold.
#include <flowguard/exporters/webhook.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    flowguard::exporters::WebhookUrl url;
    try {
        url = flowguard::exporters::parse_webhook_url(text);
    } catch (const std::invalid_argument&) {
        return 0;
    }
    const auto port = std::stoul(url.port);
    if (url.host.empty() || port == 0 || port > 65535 || url.path.empty() || url.path.front() != '/') __builtin_trap();
    for (const char c : url.host + url.path)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) __builtin_trap();
    return 0;
}
