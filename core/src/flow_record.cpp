#include <flowguard/core/flow_record.hpp>

namespace flowguard {

std::string_view flow_type_name(FlowType t) noexcept {
    switch (t) {
        case FlowType::sflow5:
            return "SFLOW_5";
        case FlowType::netflow_v5:
            return "NETFLOW_V5";
        case FlowType::netflow_v9:
            return "NETFLOW_V9";
        case FlowType::ipfix:
            return "IPFIX";
        case FlowType::meter:
            return "METER";
        case FlowType::unknown:
            break;
    }
    return "FLOWUNKNOWN";
}

FlowType flow_type_from_name(std::string_view name) noexcept {
    for (const auto type :
         {FlowType::sflow5, FlowType::netflow_v5, FlowType::netflow_v9, FlowType::ipfix, FlowType::meter})
        if (flow_type_name(type) == name) return type;
    return FlowType::unknown;
}

}  // namespace flowguard
