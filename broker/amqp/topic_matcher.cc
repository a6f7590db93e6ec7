// Trie walk for topic routing. A `#` node may absorb any number of words, so the walk keeps
// a set of live nodes per word, like an NFA; `#` children are followed with and without
// consuming a word.
#include "broker/amqp/topic_matcher.h"

#include <algorithm>
#include <unordered_map>

namespace mqlab::broker::amqp {

namespace {
struct word_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
}  // namespace

struct topic_matcher::node {
  std::unordered_map<std::string, std::unique_ptr<node>, word_hash, std::equal_to<>> words;
  std::unique_ptr<node> star;  // '*'
  std::unique_ptr<node> hash;  // '#'
  std::vector<std::uint32_t> destinations;  // patterns that end here
  bool is_hash = false;                      // reached through '#': may absorb further words
};

namespace {

// RabbitMQ splits "" into no words at all (so "#" matches it and "*" does not); "a..b" has an
// empty middle word.
template <typename F>
void for_each_word(std::string_view key, F&& f) {
  if (key.empty()) return;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = key.find('.', start);
    f(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return;
    start = dot + 1;
  }
}

}  // namespace

topic_matcher::topic_matcher() : root_(std::make_unique<node>()) {}
topic_matcher::~topic_matcher() = default;
topic_matcher::topic_matcher(topic_matcher&&) noexcept = default;
topic_matcher& topic_matcher::operator=(topic_matcher&&) noexcept = default;

void topic_matcher::add(std::string_view pattern, std::uint32_t destination) {
  node* n = root_.get();
  for_each_word(pattern, [&](std::string_view w) {
    std::unique_ptr<node>* child;
    if (w == "*") {
      child = &n->star;
    } else if (w == "#") {
      child = &n->hash;
    } else {
      auto it = n->words.find(w);
      if (it == n->words.end()) it = n->words.emplace(std::string(w), nullptr).first;
      child = &it->second;
    }
    if (!*child) {
      *child = std::make_unique<node>();
      (*child)->is_hash = w == "#";
    }
    n = child->get();
  });
  if (std::find(n->destinations.begin(), n->destinations.end(), destination) == n->destinations.end()) {
    n->destinations.push_back(destination);
  }
}

void topic_matcher::remove(std::string_view pattern, std::uint32_t destination) {
  node* n = root_.get();
  bool found = true;
  for_each_word(pattern, [&](std::string_view w) {
    if (!found) return;
    node* next = nullptr;
    if (w == "*") {
      next = n->star.get();
    } else if (w == "#") {
      next = n->hash.get();
    } else if (auto it = n->words.find(w); it != n->words.end()) {
      next = it->second.get();
    }
    found = next != nullptr;
    n = next;
  });
  if (found) std::erase(n->destinations, destination);
}

void topic_matcher::match(std::string_view routing_key, std::vector<std::uint32_t>& out) const {
  // States of the NFA; adding a state also adds the '#' children reachable without a word.
  std::vector<const node*> current, next;
  auto add_state = [](const node* n, std::vector<const node*>& states) {
    for (; n != nullptr; n = n->hash.get()) {
      if (std::find(states.begin(), states.end(), n) != states.end()) return;
      states.push_back(n);
    }
  };
  add_state(root_.get(), current);
  for_each_word(routing_key, [&](std::string_view w) {
    next.clear();
    for (const node* n : current) {
      if (auto it = n->words.find(w); it != n->words.end()) add_state(it->second.get(), next);
      if (n->star) add_state(n->star.get(), next);
      if (n->is_hash) add_state(n, next);  // '#' absorbs this word too
    }
    std::swap(current, next);
  });
  for (const node* n : current) out.insert(out.end(), n->destinations.begin(), n->destinations.end());
}

bool topic_matcher::matches(std::string_view pattern, std::string_view routing_key) {
  topic_matcher m;
  m.add(pattern, 1);
  std::vector<std::uint32_t> out;
  m.match(routing_key, out);
  return !out.empty();
}

}  // namespace mqlab::broker::amqp
