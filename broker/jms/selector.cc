// A tokenizer, a recursive-descent parser (OR < AND < NOT < comparison < + - < * / < unary)
// and an evaluator with SQL's three-valued logic: UNKNOWN is represented by an empty value.
#include "broker/jms/selector.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace mqlab::broker::jms {

struct selector::node {
  enum class kind { literal, identifier, negate, not_, and_, or_, compare, arithmetic, like, in, between, is_null };
  kind k = kind::literal;
  value literal;
  std::string name;   // identifier, or the operator of compare/arithmetic
  char op = 0;        // the operator, one character: = < > l(<=) g(>=) n(<>) + - * /
  std::vector<std::shared_ptr<const node>> kids;
  bool negated = false;  // NOT LIKE / NOT IN / NOT BETWEEN / IS NOT NULL
  std::string pattern;
  std::optional<char> escape;
  std::vector<std::string> set;
};

namespace {

using node_ptr = std::shared_ptr<const selector::node>;
using kind = selector::node::kind;

struct token {
  enum class type { identifier, keyword, string, number, op, end } t = type::end;
  std::string text;  // keywords upper-cased
  value number;
  int column = 0;
};

bool is_keyword(const std::string& upper) {
  for (const char* k : {"AND", "OR", "NOT", "BETWEEN", "LIKE", "ESCAPE", "IN", "IS", "NULL", "TRUE", "FALSE"}) {
    if (upper == k) return true;
  }
  return false;
}

struct parse_error {
  selector_error e;
};

class parser {
 public:
  explicit parser(std::string_view text) : text_(text) { tokenize(); }

  node_ptr parse() {
    node_ptr n = or_expr();
    if (peek().t != token::type::end) fail(peek().column, fmt::format("unexpected '{}'", peek().text));
    return n;
  }

 private:
  [[noreturn]] void fail(int column, std::string message) { throw parse_error{{column, std::move(message)}}; }

  void tokenize() {
    std::size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      const int column = static_cast<int>(i) + 1;
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$') {
        std::size_t j = i;
        while (j < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '_' || text_[j] == '$')) ++j;
        std::string word(text_.substr(i, j - i)), upper = word;
        for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        tokens_.push_back(is_keyword(upper) ? token{token::type::keyword, upper, {}, column}
                                            : token{token::type::identifier, word, {}, column});
        i = j;
      } else if (c == '\'') {
        std::string s;
        std::size_t j = i + 1;
        for (;; ++j) {
          if (j >= text_.size()) fail(column, "unterminated string literal");
          if (text_[j] == '\'') {
            if (j + 1 < text_.size() && text_[j + 1] == '\'') {  // '' is an escaped quote
              s += '\'';
              ++j;
              continue;
            }
            break;
          }
          s += text_[j];
        }
        tokens_.push_back({token::type::string, std::move(s), {}, column});
        i = j + 1;
      } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i + 1])))) {
        std::size_t j = i;
        bool approximate = false;
        while (j < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[j])) || text_[j] == '.' || text_[j] == 'e' ||
                                    text_[j] == 'E' || ((text_[j] == '+' || text_[j] == '-') && (text_[j - 1] == 'e' || text_[j - 1] == 'E')))) {
          approximate = approximate || text_[j] == '.' || text_[j] == 'e' || text_[j] == 'E';
          ++j;
        }
        const std::string literal(text_.substr(i, j - i));
        if (j < text_.size() && (text_[j] == 'L' || text_[j] == 'l')) ++j;  // long suffix
        value v;
        if (approximate) {
          double d = 0;
          auto [end, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), d);
          if (ec != std::errc() || end != literal.data() + literal.size()) fail(column, fmt::format("bad number '{}'", literal));
          v = d;
        } else {
          std::int64_t n = 0;
          auto [end, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), n);
          if (ec != std::errc() || end != literal.data() + literal.size()) fail(column, fmt::format("bad number '{}'", literal));
          v = n;
        }
        tokens_.push_back({token::type::number, literal, v, column});
        i = j;
      } else {
        static const char* ops[] = {"<>", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "(", ")", ","};
        bool found = false;
        for (const char* op : ops) {
          const std::string_view o(op);
          if (text_.substr(i, o.size()) == o) {
            tokens_.push_back({token::type::op, std::string(o), {}, column});
            i += o.size();
            found = true;
            break;
          }
        }
        if (!found) fail(column, fmt::format("unexpected character '{}'", c));
      }
    }
    tokens_.push_back({token::type::end, "end of selector", {}, static_cast<int>(text_.size()) + 1});
  }

  const token& peek() const { return tokens_[pos_]; }
  bool accept_keyword(const char* k) {
    if (peek().t == token::type::keyword && peek().text == k) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool accept_op(const char* o) {
    if (peek().t == token::type::op && peek().text == o) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect_op(const char* o) {
    if (!accept_op(o)) fail(peek().column, fmt::format("expected '{}' but found '{}'", o, peek().text));
  }

  static node_ptr make(kind k, std::vector<node_ptr> kids = {}, std::string name = {}) {
    auto n = std::make_shared<selector::node>();
    n->k = k;
    n->kids = std::move(kids);
    n->name = std::move(name);
    if (k == kind::compare || k == kind::arithmetic) n->op = encode(n->name);
    return n;
  }
  static char encode(std::string_view op) {
    if (op == "<=") return 'l';
    if (op == ">=") return 'g';
    if (op == "<>") return 'n';
    return op[0];
  }

  node_ptr or_expr() {
    node_ptr left = and_expr();
    while (accept_keyword("OR")) left = make(kind::or_, {left, and_expr()});
    return left;
  }
  node_ptr and_expr() {
    node_ptr left = not_expr();
    while (accept_keyword("AND")) left = make(kind::and_, {left, not_expr()});
    return left;
  }
  node_ptr not_expr() {
    if (accept_keyword("NOT")) return make(kind::not_, {not_expr()});
    return comparison();
  }

  std::string string_literal(const char* what) {
    if (peek().t != token::type::string) fail(peek().column, fmt::format("expected a string literal {}", what));
    return tokens_[pos_++].text;
  }

  node_ptr comparison() {
    node_ptr left = additive();
    for (const char* op : {"=", "<>", "<=", ">=", "<", ">"}) {
      if (accept_op(op)) return make(kind::compare, {left, additive()}, op);
    }
    const bool negated = accept_keyword("NOT");
    if (accept_keyword("LIKE")) {
      auto n = std::make_shared<selector::node>();
      n->k = kind::like;
      n->kids = {left};
      n->negated = negated;
      n->pattern = string_literal("after LIKE");
      if (accept_keyword("ESCAPE")) {
        const int column = peek().column;
        const std::string e = string_literal("after ESCAPE");
        if (e.size() != 1) fail(column, "ESCAPE must be a single character");
        n->escape = e[0];
      }
      return n;
    }
    if (accept_keyword("IN")) {
      auto n = std::make_shared<selector::node>();
      n->k = kind::in;
      n->kids = {left};
      n->negated = negated;
      expect_op("(");
      do n->set.push_back(string_literal("in an IN list")); while (accept_op(","));
      expect_op(")");
      return n;
    }
    if (accept_keyword("BETWEEN")) {
      node_ptr low = additive();
      if (!accept_keyword("AND")) fail(peek().column, "expected AND in BETWEEN");
      auto n = std::make_shared<selector::node>();
      n->k = kind::between;
      n->kids = {left, low, additive()};
      n->negated = negated;
      return n;
    }
    if (negated) fail(peek().column, "expected LIKE, IN or BETWEEN after NOT");
    if (accept_keyword("IS")) {
      auto n = std::make_shared<selector::node>();
      n->k = kind::is_null;
      n->kids = {left};
      n->negated = accept_keyword("NOT");
      if (!accept_keyword("NULL")) fail(peek().column, "expected NULL after IS");
      return n;
    }
    return left;
  }

  node_ptr additive() {
    node_ptr left = multiplicative();
    for (;;) {
      if (accept_op("+")) left = make(kind::arithmetic, {left, multiplicative()}, "+");
      else if (accept_op("-")) left = make(kind::arithmetic, {left, multiplicative()}, "-");
      else return left;
    }
  }
  node_ptr multiplicative() {
    node_ptr left = unary();
    for (;;) {
      if (accept_op("*")) left = make(kind::arithmetic, {left, unary()}, "*");
      else if (accept_op("/")) left = make(kind::arithmetic, {left, unary()}, "/");
      else return left;
    }
  }
  node_ptr unary() {
    if (accept_op("-")) return make(kind::negate, {unary()});
    if (accept_op("+")) return unary();
    return primary();
  }
  node_ptr primary() {
    const token t = peek();
    if (accept_op("(")) {
      node_ptr inner = or_expr();
      expect_op(")");
      return inner;
    }
    auto n = std::make_shared<selector::node>();
    ++pos_;
    switch (t.t) {
      case token::type::identifier:
        n->k = kind::identifier;
        n->name = t.text;
        return n;
      case token::type::string: n->literal = t.text; return n;
      case token::type::number: n->literal = t.number; return n;
      case token::type::keyword:
        if (t.text == "TRUE" || t.text == "FALSE") {
          n->literal = t.text == "TRUE";
          return n;
        }
        if (t.text == "NULL") return n;
        break;
      default: break;
    }
    fail(t.column, fmt::format("unexpected '{}'", t.text));
  }

  std::string_view text_;
  std::vector<token> tokens_;
  std::size_t pos_ = 0;
};

// --- evaluation -----------------------------------------------------------------------------

bool is_null(const value& v) { return std::holds_alternative<std::monostate>(v); }
std::optional<double> number(const value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}
using tri = std::optional<bool>;  // SQL's TRUE, FALSE and UNKNOWN (nullopt)

tri truth(const value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return std::nullopt;  // UNKNOWN (NULL or a non-boolean)
}

bool like(std::string_view s, std::string_view p, std::optional<char> escape) {
  // Backtracking matcher: % any run, _ one character, the escape character makes the next literal.
  std::size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && escape && p[pi] == *escape && pi + 1 < p.size()) {
      if (p[pi + 1] == s[si]) {
        pi += 2;
        ++si;
        continue;
      }
    } else if (pi < p.size() && p[pi] == '%') {
      star_p = pi++;
      star_s = si;
      continue;
    } else if (pi < p.size() && (p[pi] == '_' || p[pi] == s[si])) {
      ++pi;
      ++si;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p + 1;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

value eval(const selector::node& n, const value_source& src);
tri test(const selector::node& n, const value_source& src);

// A literal operand is read in place; anything else is evaluated into `scratch`. Saves copying
// string literals on every evaluation.
const value& operand(const selector::node& n, const value_source& src, value& scratch) {
  if (n.k == kind::literal) return n.literal;
  scratch = eval(n, src);
  return scratch;
}

template <typename T>
bool ordered(char op, T x, T y) {
  switch (op) {
    case '=': return x == y;
    case 'n': return x != y;
    case '<': return x < y;
    case 'l': return x <= y;
    case '>': return x > y;
    default: return x >= y;
  }
}

tri compare(char op, const value& a, const value& b) {
  if (is_null(a) || is_null(b)) return {};
  // Exact numbers compare exactly; a mix with approximate ones compares as doubles.
  const auto* ia = std::get_if<std::int64_t>(&a);
  const auto* ib = std::get_if<std::int64_t>(&b);
  if (ia && ib) return ordered(op, *ia, *ib);
  if (auto x = number(a), y = number(b); x && y) return ordered(op, *x, *y);
  // Strings and booleans support only = and <> (JMS 1.1 §3.8.1.2); mixed types are UNKNOWN.
  if (a.index() != b.index() || (op != '=' && op != 'n')) return {};
  return op == '=' ? a == b : a != b;
}

value arithmetic(char op, const value& a, const value& b) {
  const auto* ia = std::get_if<std::int64_t>(&a);
  const auto* ib = std::get_if<std::int64_t>(&b);
  if (ia && ib && op != '/') {
    if (op == '+') return *ia + *ib;
    if (op == '-') return *ia - *ib;
    return *ia * *ib;
  }
  auto x = number(a), y = number(b);
  if (!x || !y) return {};
  if (op == '+') return *x + *y;
  if (op == '-') return *x - *y;
  if (op == '*') return *x * *y;
  if (ia && ib) return *ib == 0 ? value{} : value{*ia / *ib};
  return *y == 0 ? value{} : value{*x / *y};
}

// Conditions evaluate to a truth value directly, without building a value for each node.
tri test(const selector::node& n, const value_source& src) {
  switch (n.k) {
    case kind::not_: {
      const tri t = test(*n.kids[0], src);
      return t ? tri{!*t} : tri{};
    }
    case kind::and_: {
      const tri a = test(*n.kids[0], src);
      if (a == false) return false;  // FALSE AND anything = FALSE
      const tri b = test(*n.kids[1], src);
      if (b == false) return false;
      return a && b ? tri{true} : tri{};
    }
    case kind::or_: {
      const tri a = test(*n.kids[0], src);
      if (a == true) return true;  // TRUE OR anything = TRUE
      const tri b = test(*n.kids[1], src);
      if (b == true) return true;
      return a && b ? tri{false} : tri{};
    }
    case kind::compare: {
      value a, b;
      const value& x = operand(*n.kids[0], src, a);
      return compare(n.op, x, operand(*n.kids[1], src, b));
    }
    case kind::like: {
      value scratch;
      const auto* s = std::get_if<std::string>(&operand(*n.kids[0], src, scratch));
      if (!s) return {};
      return like(*s, n.pattern, n.escape) != n.negated;
    }
    case kind::in: {
      value scratch;
      const auto* s = std::get_if<std::string>(&operand(*n.kids[0], src, scratch));
      if (!s) return {};
      const bool found = std::ranges::find(n.set, std::string_view(*s)) != n.set.end();
      return found != n.negated;
    }
    case kind::between: {
      auto x = number(eval(*n.kids[0], src));
      auto lo = number(eval(*n.kids[1], src));
      auto hi = number(eval(*n.kids[2], src));
      if (!x || !lo || !hi) return {};
      return (*lo <= *x && *x <= *hi) != n.negated;
    }
    case kind::is_null: return is_null(eval(*n.kids[0], src)) != n.negated;
    default: return truth(eval(n, src));
  }
}

value eval(const selector::node& n, const value_source& src) {
  switch (n.k) {
    case kind::literal: return n.literal;
    case kind::identifier: return src(n.name);
    case kind::negate: {
      const value v = eval(*n.kids[0], src);
      if (const auto* i = std::get_if<std::int64_t>(&v)) return -*i;
      if (const auto* d = std::get_if<double>(&v)) return -*d;
      return {};
    }
    case kind::arithmetic: {
      value a, b;
      const value& x = operand(*n.kids[0], src, a);
      return arithmetic(n.op, x, operand(*n.kids[1], src, b));
    }
    default: {
      const tri t = test(n, src);
      return t ? value{*t} : value{};
    }
  }
}

}  // namespace

std::expected<selector, selector_error> selector::compile(std::string_view text) {
  selector s;
  s.text_ = std::string(text);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return s;
  try {
    s.root_ = parser(s.text_).parse();
  } catch (const parse_error& e) {
    return std::unexpected(e.e);
  }
  return s;
}

bool selector::matches(const value_source& message) const {
  if (!root_) return true;
  return test(*root_, message) == true;
}

}  // namespace mqlab::broker::jms
