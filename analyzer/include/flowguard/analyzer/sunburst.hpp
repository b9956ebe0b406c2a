#pragma once
// Decoder for the DNS names that the SUNBURST backdoor (SolarWinds Orion, 2020) queried under
// appsync-api.<region>.avsvmcloud.com. The first label carries, encoded with the backdoor's own base32 and
// substitution alphabets:
//   - domain fragments: victim GUID, fragment sequence, a piece of the victim's AD domain;
//   - pings: victim GUID, a timestamp (half-hours since 2010-01-01 UTC) and the stage-2 ("associated") flag;
//   - security-services reports: the same plus running/stopped bits of security products.
// Layout and alphabets as published by FireEye, QiAnXin RedDrip, Kaspersky and Netresec (see docs/DETECTION.md).
#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace flowguard::analyzer {

enum class SunburstKind { domain_fragment, ping, services, invalid };
std::string_view to_string(SunburstKind kind);

// One security product in a services report: the backdoor sent two bits per product.
struct SunburstServiceState {
    std::string_view product;
    bool running = false;
    bool stopped = false;
};

struct SunburstMessage {
    SunburstKind kind = SunburstKind::invalid;
    std::string invalid_reason;  // why a name is `invalid`
    std::string region;          // eu-west-1, us-west-2, us-east-1 or us-east-2
    std::uint64_t guid = 0;      // victim id, the 8 bytes read big-endian (printed as 16 hex digits)
    // domain_fragment only
    std::optional<int> sequence;  // 0..34; unknown for the last fragment until the others are seen
    bool last = false;
    std::string encoded_fragment;  // the label's payload with the padding '0' removed
    bool base32_domain = false;    // the fragment opens a base32 ("00") encoded domain
    // ping and services only
    std::int64_t timestamp = 0;  // Unix seconds, 30-minute resolution
    bool stage2 = false;
    std::vector<SunburstServiceState> services;
};

// True for any name under avsvmcloud.com (the IOC domain); decode_sunburst_name says whether it decodes.
bool is_avsvmcloud_name(std::string_view name);

// Decodes one DNS name (case-insensitive, trailing dot allowed). Never throws; bad names are `invalid`.
SunburstMessage decode_sunburst_name(std::string_view name);

// Decodes a substitution-encoded fragment on its own (empty optional when it is not one).
std::optional<std::string> decode_substitution(std::string_view encoded);
// Decodes the backdoor's base32 (whole bytes only).
std::vector<std::uint8_t> decode_sunburst_base32(std::string_view encoded);

std::string guid_hex(std::uint64_t guid);

// Reassembles each victim's domain from its fragments across queries. Bounded: at most max_victims GUIDs are
// kept, the oldest forgotten first.
class SunburstDomainAssembler {
public:
    explicit SunburstDomainAssembler(std::size_t max_victims = 65536) : max_victims_(max_victims) {}

    void add(const SunburstMessage& message);

    // The whole victim domain once the last fragment and every fragment before it have been seen. A lone last
    // fragment counts as a whole one-fragment domain (unless it starts or ends like a tail): right once the
    // whole input is in, as for `flowguard sunburst`.
    std::optional<std::string> domain(std::uint64_t guid) const;
    // For a live stream, where fragments may come out of order (after capture loss, a restart, a resolver
    // cache) and the last fragment does not say how many came before it: the domain once the last fragment
    // arrived right after fragments 0..n, all present and none beyond (the backdoor sends them in order, and
    // sends them again). A last fragment seen before the others is not a whole domain.
    std::optional<std::string> assembled_domain(std::uint64_t guid) const;
    // What is known of a domain not yet assembled: the text of fragments 0..n in a row, then " ... " and the
    // last fragment's text when it was seen (alone: the whole domain if it is that short, its tail otherwise).
    std::optional<std::string> partial_domain(std::uint64_t guid) const;
    // The decoded text of one fragment: needs its predecessors when the domain is base32 encoded.
    std::optional<std::string> fragment_text(const SunburstMessage& message) const;
    // The sequence number of a last fragment, known once its predecessors are.
    std::optional<int> sequence_of(const SunburstMessage& message) const;

    std::size_t victims() const { return victims_.size(); }

private:
    struct Victim {
        std::array<std::string, 35> fragments;  // encoded, by sequence
        std::uint64_t present = 0;              // bit n: fragment n seen
        std::string last_fragment;
        bool has_last = false;
        int previous = -1;       // sequence of the latest fragment before a last one arrives
        bool confirmed = false;  // the last fragment came right after 0..previous, all present
    };
    std::optional<std::string> encoded_domain(const Victim& victim) const;
    int leading_fragments(const Victim& victim) const;

    std::size_t max_victims_;
    std::unordered_map<std::uint64_t, Victim> victims_;
    std::deque<std::uint64_t> order_;  // GUIDs oldest first, for eviction
};

// `flowguard sunburst`'s record of one name: name, kind, guid, region, sequence, last, fragment,
// encoded_fragment, domain, timestamp, stage2 (null where the message has none), services, reason.
// Fragments anywhere in the input complete the domains of every name: decode all names into the
// assembler first.
boost::json::object describe_sunburst_name(const std::string& name, const SunburstMessage& message,
                                           const SunburstDomainAssembler& assembler);

}  // namespace flowguard::analyzer
