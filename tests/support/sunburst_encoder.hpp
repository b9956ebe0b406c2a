#pragma once
// A test-only re-implementation of the SUNBURST backdoor's DNS name encoder, so the decoder can be checked on
// names built from known GUIDs, domains and times (round trips), not only on the names seen in the wild.
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::test {

class SunburstEncoder {
public:
    explicit SunburstEncoder(std::uint32_t seed) : random_(seed) {}

    // All names the backdoor would send to leak `domain` (GetPreviousString until the last fragment).
    std::vector<std::string> domain_names(std::uint64_t guid, const std::string& domain) {
        const std::string encoded = encode_domain(domain);
        std::vector<std::string> names;
        std::size_t offset = 0;
        int count = 0;
        while (offset < encoded.size() && count <= 36) {
            const std::string head = secure_string(guid_bytes(guid), true);
            const std::size_t room = 32 - head.size() - 1;
            const std::size_t take = std::min(room, encoded.size() - offset);
            std::string piece = encoded.substr(offset, take);
            offset += take;
            if (std::string_view("-_0").find(piece.back()) != std::string_view::npos) {
                if (take == room) {
                    --offset;
                    piece.pop_back();
                }
                piece += '0';
            }
            if (offset >= encoded.size() || count > 36) count = -1;
            names.push_back(head + sequence_char(count, head[0]) + piece + suffix(guid));
            if (count >= 0)
                ++count;
            else
                break;
        }
        return names;
    }

    // A ping (type 1) or a services report (type 2, `services` = 2 bits per product, product 0 lowest).
    std::string data_name(std::uint64_t guid, std::int64_t unix_seconds, bool stage2, int type,
                          std::uint16_t services = 0) {
        const auto half_hours = static_cast<std::uint32_t>((unix_seconds - 1262304000) / 1800);
        const std::uint32_t value = ((half_hours << 1) | (stage2 ? 1u : 0u)) & 0xFFFFFu;
        std::vector<std::uint8_t> data;
        auto g = guid_bytes(guid);
        const std::uint8_t time_bytes[3] = {static_cast<std::uint8_t>((type << 4) | (value >> 16)),
                                            static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
        for (int i = 0; i < 8; ++i) data.push_back(g[i] ^ time_bytes[(i % 2 == 0) ? 2 : 1]);
        data.insert(data.end(), time_bytes, time_bytes + 3);
        if (type == 2) {
            data.push_back(static_cast<std::uint8_t>(services >> 8));
            data.push_back(static_cast<std::uint8_t>(services));
        }
        return secure_string(data, false) + suffix(guid);
    }

private:
    static constexpr std::string_view kBase32 = "ph2eifo3n5utg1j8d94qrvbmk0sal76c";
    static constexpr std::string_view kSubstitution = "rq3gsalt6u1iyfzop572d49bnx8cvmkewhj";
    static constexpr std::string_view kSpecial = "0_-.";

    static std::array<std::uint8_t, 8> guid_bytes(std::uint64_t guid) {
        std::array<std::uint8_t, 8> bytes{};
        for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(guid >> (56 - 8 * i));
        return bytes;
    }
    std::string suffix(std::uint64_t guid) const {
        static constexpr std::array<std::string_view, 4> regions = {"eu-west-1", "us-west-2", "us-east-1", "us-east-2"};
        return ".appsync-api." + std::string(regions[(guid >> 56) % 4]) + ".avsvmcloud.com";
    }
    std::string base32(const std::vector<std::uint8_t>& bytes, bool random_pad) {
        std::string out;
        std::uint32_t bits = 0;
        int count = 0;
        for (auto b : bytes) {
            bits |= static_cast<std::uint32_t>(b) << count;
            for (count += 8; count >= 5; count -= 5) {
                out += kBase32[bits & 31u];
                bits >>= 5;
            }
        }
        if (count > 0) {
            if (random_pad) bits |= static_cast<std::uint32_t>(random_() & 0xFF) << count;
            out += kBase32[bits & 31u];
        }
        return out;
    }
    template <typename Bytes>
    std::string secure_string(const Bytes& data, bool flag) {
        std::vector<std::uint8_t> bytes;
        auto key = static_cast<std::uint8_t>(1 + random_() % 126);
        if (flag) key |= 0x80;
        bytes.push_back(key);
        for (auto b : data) bytes.push_back(static_cast<std::uint8_t>(b ^ key));
        return base32(bytes, true);
    }
    static std::string sequence_char(int n, char first) {
        if (n < 0 || n >= 36) n = 35;
        n = (n + static_cast<unsigned char>(first)) % 36;
        return std::string(1, n < 10 ? static_cast<char>('0' + n) : static_cast<char>('a' + n - 10));
    }
    std::string encode_domain(const std::string& domain) {
        const bool plain = domain.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-_.") == std::string::npos;
        if (!plain) return "00" + base32(std::vector<std::uint8_t>(domain.begin(), domain.end()), false);
        std::string out;
        for (char c : domain) {
            const auto special = kSpecial.find(c);
            if (special != std::string_view::npos) {
                out += '0';
                out +=
                    kSubstitution[special + (random_() % (kSubstitution.size() / kSpecial.size())) * kSpecial.size()];
            } else {
                out += kSubstitution[(kSubstitution.find(c) + 4) % kSubstitution.size()];
            }
        }
        return out;
    }

    std::mt19937 random_;
};

}  // namespace flowguard::test
