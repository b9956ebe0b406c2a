// libFuzzer target: any bytes as a user indicator list (analyzer.ioc_files), line by line as load_file reads
// it: a bad line may only be refused with a message naming it; then names and addresses are matched.
#include <flowguard/analyzer/ioc.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace flowguard;
    analyzer::IocList list;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string_view last;
    while (!text.empty()) {
        const auto end = text.find('\n');
        const auto line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (!list.try_add(line, "fuzz")) last = line;  // (add() throws the same message: slow under ASan)
    }
    (void)list.match_name(last);
    (void)list.match_name(std::string_view(reinterpret_cast<const char*>(data), size));
    if (const auto address = IpAddress::parse(last)) (void)list.match_address(*address);
    return 0;
}
