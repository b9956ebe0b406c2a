#pragma once
// How alerts are rendered for an output: flowguard's own schema (core/alert.hpp's to_json, docs/ALERTS.md) or
// the Elastic Common Schema (ECS 8: event.kind "alert", source.*, destination.*, dns.question.*, rule.*,
// threat.*, observer.*), selectable per output (`alerts.format`, a generic webhook's `format`).
#include <flowguard/core/alert.hpp>

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace flowguard::exporters {

boost::json::object to_ecs(const Alert& alert);
// One line without the newline, in `format` ("native" or "ecs").
std::string render_alert(const Alert& alert, std::string_view format);

}  // namespace flowguard::exporters
