// Graphviz DOT export of a tape.
#include <ostream>
#include <sstream>
#include <unordered_map>

#include "detail.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

namespace {
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

template <class T>
void Tape<T>::write_dot(std::ostream& out) const {
  std::unordered_map<const void*, std::size_t> ids;
  out << "digraph tape {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  auto value_id = [&](const Var<T>& v) {
    const void* key = v.node().get();
    auto it = ids.find(key);
    if (it != ids.end()) return it->second;
    const std::size_t id = ids.size();
    ids.emplace(key, id);
    const auto& n = *v.node();
    const std::string label =
        (n.name.empty() ? std::string() : escape(n.name) + "\\n") + shape_str(n.shape());
    const char* style =
        n.entry < 0 ? (n.requires_grad ? "filled\", fillcolor=\"#cde7ff" : "solid") : "rounded";
    out << fmt::format("  v{} [shape=box, style=\"{}\", label=\"{}\"];\n", id, style, label);
    return id;
  };
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    if (!e.output.defined()) continue;
    out << fmt::format(
        "  op{} [shape=ellipse, style=filled, fillcolor=\"#fff2cc\", label=\"{}\"];\n", i,
        escape(e.op));
    for (const auto& in : e.inputs) out << fmt::format("  v{} -> op{};\n", value_id(in), i);
    out << fmt::format("  op{} -> v{};\n", i, value_id(e.output));
  }
  out << "}\n";
}

template <class T>
std::string Tape<T>::dot() const {
  std::ostringstream s;
  write_dot(s);
  return s.str();
}

template void Tape<float>::write_dot(std::ostream&) const;
template void Tape<double>::write_dot(std::ostream&) const;
template std::string Tape<float>::dot() const;
template std::string Tape<double>::dot() const;

}  // namespace tapegrad
