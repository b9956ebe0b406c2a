#include <flowguard/collector/dns_parser.hpp>
#include <flowguard/core/byte_order.hpp>

#include <cstring>

namespace flowguard::collector {
namespace {

constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypeAaaa = 28;
constexpr int kMaxPointerHops = 32;

bool same_name(const DnsName& a, const DnsName& b) noexcept {
    if (a.length != b.length) return false;
    for (std::size_t i = 0; i < a.length; ++i) {
        char x = a.text[i], y = b.text[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

}  // namespace

std::size_t read_dns_name(const std::uint8_t* message, std::size_t length, std::size_t offset, DnsName& out) noexcept {
    std::size_t written = 0;
    std::size_t after = 0;  // where the name ends in the record, set at the first pointer
    std::size_t cursor = offset;
    int hops = 0;
    for (;;) {
        if (cursor >= length) return 0;
        const std::uint8_t label = message[cursor];
        if (label == 0) {
            if (after == 0) after = cursor + 1;
            break;
        }
        if ((label & 0xc0) == 0xc0) {
            if (cursor + 1 >= length) return 0;
            const std::size_t target = static_cast<std::size_t>((label & 0x3f) << 8 | message[cursor + 1]);
            // Only backwards: a pointer to itself or forward could loop.
            if (target >= cursor || ++hops > kMaxPointerHops) return 0;
            if (after == 0) after = cursor + 2;
            cursor = target;
            continue;
        }
        if ((label & 0xc0) != 0) return 0;  // 0x40/0x80: extended label types, obsolete
        if (cursor + 1 + label > length) return 0;
        if (written + (written ? 1 : 0) + label > out.text.size()) return 0;
        if (written) out.text[written++] = '.';
        std::memcpy(out.text.data() + written, message + cursor + 1, label);
        written += label;
        cursor += 1 + label;
    }
    out.length = static_cast<std::uint8_t>(written);
    return after;
}

DnsParseResult parse_dns_message(const std::uint8_t* data, std::size_t length, DnsEvent& out) noexcept {
    if (length < 12) return DnsParseResult::truncated;
    out.id = load_be16(data);
    const std::uint16_t flags = load_be16(data + 2);
    out.response = (flags & 0x8000) != 0;
    out.rcode = static_cast<std::uint8_t>(flags & 0x000f);
    const std::uint16_t questions = load_be16(data + 4);
    const std::uint16_t answers = load_be16(data + 6);
    if (questions == 0) return DnsParseResult::malformed;  // nothing to attribute
    std::size_t offset = read_dns_name(data, length, 12, out.qname);
    if (offset == 0) return DnsParseResult::malformed;
    if (offset + 4 > length) return DnsParseResult::truncated;
    out.qtype = load_be16(data + offset);
    offset += 4;
    // Further questions (never sent in practice) are skipped.
    for (std::uint16_t q = 1; q < questions; ++q) {
        DnsName skipped;
        offset = read_dns_name(data, length, offset, skipped);
        if (offset == 0 || offset + 4 > length) return DnsParseResult::malformed;
        offset += 4;
    }
    if (!out.response) return DnsParseResult::ok;
    // Follow the chain from the question: CNAMEs whose owner is the current name, then its addresses.
    DnsName current = out.qname;
    bool first_ttl = true;
    for (std::uint16_t a = 0; a < answers; ++a) {
        DnsName owner;
        offset = read_dns_name(data, length, offset, owner);
        if (offset == 0) return DnsParseResult::malformed;
        if (offset + 10 > length) return DnsParseResult::truncated;
        const std::uint16_t type = load_be16(data + offset);
        const std::uint32_t ttl = load_be32(data + offset + 4);
        const std::size_t rdlength = load_be16(data + offset + 8);
        const std::size_t rdata = offset + 10;
        if (rdata + rdlength > length) return DnsParseResult::truncated;
        offset = rdata + rdlength;
        if (!same_name(owner, current)) continue;  // not on the chain (e.g. additional names in answers)
        auto keep_ttl = [&] {
            out.min_ttl = first_ttl ? ttl : (ttl < out.min_ttl ? ttl : out.min_ttl);
            first_ttl = false;
        };
        if (type == kTypeCname) {
            DnsName target;
            if (read_dns_name(data, length, rdata, target) == 0) return DnsParseResult::malformed;
            if (out.cname_count < out.cnames.size()) {
                out.cnames[out.cname_count++] = target;
            } else {
                out.truncated_answers = true;
            }
            current = target;
            keep_ttl();
        } else if ((type == kTypeA && rdlength == 4) || (type == kTypeAaaa && rdlength == 16)) {
            if (out.address_count < out.addresses.size()) {
                out.addresses[out.address_count] =
                    type == kTypeA ? IpAddress::from_v4_bytes(data + rdata) : IpAddress::from_v6_bytes(data + rdata);
                out.ttls[out.address_count++] = ttl;
                keep_ttl();
            } else {
                out.truncated_answers = true;
            }
        }
    }
    return DnsParseResult::ok;
}

}  // namespace flowguard::collector
