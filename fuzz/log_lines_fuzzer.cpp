// libFuzzer target: any bytes as a flow/DNS log for `analyze`: the sniffer, then every line through the
// JSON-lines readers (goflow2 flow records, DNS events) and flowguard's CSV reader, as FlowLogSource reads
// them. Refusals are counted there; here nothing may crash, and a line read as a flow must name both addresses.
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/flow_csv.hpp>
#include <flowguard/exporters/flow_json.hpp>

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace flowguard;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    exporters::FlowCsvReader csv;
    bool csv_header = false;
    std::string error;
    while (!text.empty()) {
        const auto end = text.find('\n');
        const auto line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        FlowRecord record;
        if (!csv_header) {
            csv_header = csv.read_header(line);
        } else {
            (void)csv.read(line, record, error);
        }
        boost::system::error_code ec;
        const auto value = boost::json::parse(line, ec);
        if (ec || !value.is_object()) continue;
        const auto& object = value.as_object();
        if (exporters::is_dns_json(object)) {
            DnsEvent event;
            (void)exporters::read_dns_json(object, event, error);
        } else if (exporters::read_flow_json(object, record, error)) {
            if (record.src_addr.empty() || record.dst_addr.empty()) __builtin_trap();
        }
    }
    return 0;
}
