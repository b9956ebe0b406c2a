// libFuzzer target: what a webhook spool directory holds. Its file names are parsed into alert ids at start
// (anything else is not an entry), and its files' bytes are sent as they are: the only processing is the
// generic webhook's HMAC signature over them. First line: a file name; the rest: a spooled body.
#include <flowguard/exporters/webhook.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace flowguard;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto newline = text.find('\n');
    const auto name = text.substr(0, newline);
    const auto body = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const std::filesystem::path file{std::string(name)};
    if (exporters::spool_entry_id(file) && file.filename().string().size() != 25) __builtin_trap();  // 20 digits, .json
    WebhookConfig hook;
    hook.kind = "generic";
    hook.secret = "s3cret";
    const auto headers = exporters::webhook_headers(hook, std::string(body), 1'700'000'000);
    if (headers.empty()) __builtin_trap();
    return 0;
}
