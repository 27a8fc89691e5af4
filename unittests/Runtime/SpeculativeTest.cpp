// Tests of the speculative-sampling rule (lib/Runtime/Speculative.cpp): a
// draft drawn from q, kept with probability min(1, p/q) and otherwise
// replaced by a draw from max(0, p - q), is distributed exactly as p. Seeded,
// so each test sees one fixed sequence of draws and cannot flake.
#include "Speculative.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace dsv3rt {
namespace {

int64_t drawFrom(const Distribution &d, Rng &rng) {
  double u = rng.uniform(), cumulative = 0;
  for (const auto &e : d) {
    cumulative += e.second;
    if (cumulative > u)
      return e.first;
  }
  return d.back().first;
}

// Pearson's chi-square of `counts` against `p` over `n` draws.
double chiSquare(const std::vector<int64_t> &counts, const Distribution &p,
                 int64_t n) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double expected = 0;
    for (const auto &e : p)
      if (e.first == static_cast<int64_t>(i))
        expected = e.second * n;
    if (expected > 0)
      chi += (counts[i] - expected) * (counts[i] - expected) / expected;
    else
      EXPECT_EQ(counts[i], 0) << "token " << i << " has p = 0";
  }
  return chi;
}

// The empirical distribution of the rule's output over many drafts, and how
// often drafts were kept.
std::vector<int64_t> simulate(const Distribution &p, const Distribution &q,
                              int64_t vocab, int64_t n, int64_t &kept) {
  Rng rng(12345);
  std::vector<int64_t> counts(vocab, 0);
  kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t draft = drawFrom(q, rng);
    auto [token, keep] = speculativeAccept(p, q, draft, rng);
    ++counts[token];
    kept += keep;
  }
  return counts;
}

TEST(SpeculativeTest, OutputIsDistributedAsTheTarget) {
  // A draft that over-weights token 0 and misses token 4 entirely.
  const Distribution p = {{0, 0.1}, {1, 0.2}, {2, 0.3}, {3, 0.15}, {4, 0.25}};
  const Distribution q = {{0, 0.5}, {1, 0.2}, {2, 0.2}, {3, 0.1}};
  const int64_t n = 200000;
  int64_t kept = 0;
  std::vector<int64_t> counts = simulate(p, q, 5, n, kept);
  // 4 degrees of freedom: chi-square exceeds 18.47 with probability 0.001
  // when the output follows p.
  EXPECT_LT(chiSquare(counts, p, n), 18.47);
  // Acceptance is sum_x min(p(x), q(x)) = 0.1 + 0.2 + 0.2 + 0.1 = 0.6.
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.6, 0.005);
}

TEST(SpeculativeTest, TheRuleIsNotTheDraft) {
  // Taking the draft as is would follow q: the same test must reject that.
  const Distribution p = {{0, 0.1}, {1, 0.2}, {2, 0.3}, {3, 0.15}, {4, 0.25}};
  const Distribution q = {{0, 0.5}, {1, 0.2}, {2, 0.2}, {3, 0.1}};
  const int64_t n = 200000;
  Rng rng(12345);
  std::vector<int64_t> counts(5, 0);
  for (int64_t i = 0; i < n; ++i)
    ++counts[drawFrom(q, rng)];
  EXPECT_GT(chiSquare(std::vector<int64_t>(counts.begin(), counts.end() - 1),
                      Distribution(p.begin(), p.end() - 1), n),
            1000.0);
}

TEST(SpeculativeTest, IdenticalDistributionsKeepEveryDraft) {
  const Distribution p = {{2, 0.7}, {0, 0.3}};
  int64_t kept = 0;
  std::vector<int64_t> counts = simulate(p, p, 3, 10000, kept);
  EXPECT_EQ(kept, 10000);
  EXPECT_EQ(counts[1], 0);
}

TEST(SpeculativeTest, ADraftOutsideTheDraftDistributionIsRefused) {
  Rng rng(1);
  dsv3test::expectThrowContaining(
      [&] {
        speculativeAccept({{0, 1.0}}, {{1, 1.0}}, 0, rng);
      },
      {"has probability 0 under the draft distribution"});
}

} // namespace
} // namespace dsv3rt
