#include <flowguard/core/time_format.hpp>
#include <flowguard/exporters/dns_format.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace flowguard::exporters {
namespace {

// Names from the wire may hold any byte: JSON-escape them.
void append_json_string(fmt::memory_buffer& out, std::string_view text) {
    const auto quoted = boost::json::serialize(boost::json::string(text));
    out.append(quoted.data(), quoted.data() + quoted.size());
}

void append_address(fmt::memory_buffer& out, const IpAddress& address) {
    char text[64];
    const auto length = address.format_to(text);
    out.push_back('"');
    out.append(text, text + length);
    out.push_back('"');
}

}  // namespace

std::string_view dns_type_name(std::uint16_t qtype) noexcept {
    switch (qtype) {
        case 1:
            return "A";
        case 2:
            return "NS";
        case 5:
            return "CNAME";
        case 6:
            return "SOA";
        case 12:
            return "PTR";
        case 15:
            return "MX";
        case 16:
            return "TXT";
        case 28:
            return "AAAA";
        case 33:
            return "SRV";
        case 64:
            return "SVCB";
        case 65:
            return "HTTPS";
        case 255:
            return "ANY";
        default:
            return "";
    }
}

void append_dns_json(fmt::memory_buffer& out, const DnsEvent& e) {
    auto it = std::back_inserter(out);
    fmt::format_to(it, "{{\"time\":\"{}\",\"time_ns\":{},\"type\":\"{}\",\"client\":", format_iso8601_ns(e.time_ns),
                   e.time_ns, e.response ? "response" : "query");
    append_address(out, e.client);
    fmt::format_to(it, ",\"client_port\":{},\"server\":", e.client_port);
    append_address(out, e.server);
    fmt::format_to(it, ",\"id\":{},\"qname\":", e.id);
    append_json_string(out, e.qname.view());
    fmt::format_to(it, ",\"qtype\":{},\"qtype_name\":\"{}\"", e.qtype, dns_type_name(e.qtype));
    if (e.response) {
        fmt::format_to(it, ",\"rcode\":{},\"cnames\":[", e.rcode);
        for (std::size_t i = 0; i < e.cname_count; ++i) {
            if (i) out.push_back(',');
            append_json_string(out, e.cnames[i].view());
        }
        out.append(std::string_view("],\"answers\":["));
        for (std::size_t i = 0; i < e.address_count; ++i) {
            if (i) out.push_back(',');
            append_address(out, e.addresses[i]);
        }
        fmt::format_to(it, "],\"ttl\":{},\"answers_truncated\":{}", e.min_ttl, e.truncated_answers);
    }
    out.append(std::string_view("}\n"));
}

void DnsLineWriter::write(std::span<const DnsEvent> events) {
    for (const auto& event : events) append_dns_json(buffer_, event);
    lines_ += events.size();
    if (buffer_.size() > (64u << 10)) flush();
}

bool DnsLineWriter::flush() {
    if (buffer_.size() && std::fwrite(buffer_.data(), 1, buffer_.size(), out_) != buffer_.size()) {
        buffer_.clear();
        return false;
    }
    buffer_.clear();
    return std::fflush(out_) == 0 && !std::ferror(out_);
}

}  // namespace flowguard::exporters
