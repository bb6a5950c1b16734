// The all-M Monte Carlo tile of memlab.gpu_kernels.mc_excess_losses as a native CPU loop (XLA FFI custom call).
//
// For every timestep t, sample s and draw r of the tile (one row), with the logits of the memorizing
// denoiser in the frame centred at the row's own training sample, w_j = c_t |Y_j|^2 + e_t z.Y_j
// (Y_j = x^j - x^s, c_t = -alpha^2 / (2 sigma^2), e_t = alpha / sigma), the prefix softmax means
//
//     u_M = sum_{j <= M} p^(M)_j Y_j,   p^(M) = softmax of w_1..w_M,
//
// follow the online (running-max) recursion m_k = max(m_{k-1}, w_k), Z_k = e^{m_{k-1} - m_k} Z_{k-1} +
// e^{w_k - m_k}, u_k = u_{k-1} + (e^{w_k - m_k} / Z_k) (Y_k - u_{k-1}): every weight is <= 1, nothing
// overflows, and a term only underflows when it is negligible next to the running maximum. The kernel runs
// it in absolute coordinates (u_k + x^s, a convex combination of the x^j; the differences below are the same),
// 8 rows at a time, one per SIMD lane. A first pass gives r = u_N (x_mem(X)); a second pass repeats the same
// recursion (bit for bit) and writes excess_M = |u_M - r|^2 (so excess_N = 0 exactly). The row also yields
// |x_mem(X) - x^s|^2 (the loss of x_mem) and |x_*(X) - x_mem(X)|^2 for the true mixture's denoiser (eq. 11).
//
// Per (t, group of samples) the kernel reduces over the draws (weighted mean and centred sum of squares)
// and sums over the group's samples (weights 0 for padding), so its outputs are (T, G, ...) and its scratch
// memory per thread is O(N d' + group rows x N), d' = d rounded up to 8.
//
// Built at first use by memlab/gpu_kernels/_native.py with the system C++ compiler.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

template <typename To, typename From>
inline To bits_as(From value) {
  static_assert(sizeof(To) == sizeof(From), "size mismatch");
  To out;
  std::memcpy(&out, &value, sizeof(To));
  return out;
}

// e^x for x <= 0 (including -inf), branch-free so that loops over it vectorize. Cody-Waite reduction
// x = n ln2 + r, |r| <= ln2/2, and a polynomial for e^r; results below the smallest normal number are 0.
inline float exp_nonpositive(float x) {
  const float lowest = -87.0f;
  const float xc = x < lowest ? lowest : x;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer kept in the low bits
  const float shifted = xc * 1.44269504088896341f + shifter;
  const float n = shifted - shifter;
  const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const int32_t exponent = (bits_as<int32_t>(shifted) + 127) << 23;  // the low bits of `shifted` hold n
  const float value = er * bits_as<float>(exponent);
  return x < lowest ? 0.0f : value;
}

inline double exp_nonpositive(double x) {
  const double lowest = -708.0;
  const double xc = x < lowest ? lowest : x;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52
  const double shifted = xc * 1.4426950408889634 + shifter;
  const double n = shifted - shifter;
  const double r = (xc - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
  // Taylor polynomial of degree 13 on |r| <= 0.35: truncation error < 5e-18.
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const int64_t exponent = (bits_as<int64_t>(shifted) + 1023) << 52;
  const double value = p * bits_as<double>(exponent);
  return x < lowest ? 0.0 : value;
}

constexpr int64_t kLanes = 8;  // rows (sample, draw) processed together, one per SIMD lane
constexpr int64_t kDims = 8;   // coordinates of u kept in registers across the points

struct Shapes {
  int64_t times, samples, draws, n_pad, n, d, k, groups;
};

// Everything one thread needs, sized once per call. Per-lane arrays are (count, kLanes), lane fastest. The
// recursion runs in absolute coordinates (u_k is a weighted mean of the x^j): lanes may hold rows of different
// samples, and |u_k - r|^2 is the same as in the centred frame.
template <typename T>
struct Scratch {
  std::vector<T> logits;      // (n, L)
  std::vector<T> run_max;     // (n, L) m_k
  std::vector<T> norm;        // (n, L) e^{m_{k-1} - m_k}, then Z_k
  std::vector<T> step;        // (n, L) e^{w_k - m_k} / Z_k: the weight of x^k in u_k
  std::vector<T> r;           // (d_pad, L) u_N = x_mem(X)
  std::vector<T> distance;    // (n, L) |u_k - r|^2
  std::vector<T> gen;         // (d,)
  std::vector<T> gen_logits;  // (K,)
  std::vector<T> excess;      // (rows of a group, n)
  std::vector<T> excess_gen;  // (rows of a group,)
  std::vector<T> loss_mem;    // (rows of a group,)
  std::vector<T> mean, m2;    // (n,) draw statistics
  std::vector<T> dist2;       // (samples of a group, n) |x^j - x^s|^2, exact (differences first)

  Scratch(const Shapes& sh, int64_t d_pad, int64_t group_samples)
      : logits(sh.n * kLanes), run_max(sh.n * kLanes), norm(sh.n * kLanes), step(sh.n * kLanes), r(d_pad * kLanes),
        distance(sh.n * kLanes), gen(sh.d), gen_logits(sh.k), excess(group_samples * sh.draws * sh.n),
        excess_gen(group_samples * sh.draws), loss_mem(group_samples * sh.draws), mean(sh.n), m2(sh.n),
        dist2(group_samples * sh.n) {}
};

// The prefix recursion's weights for kLanes rows: step_k = e^{w_k - m_k} / Z_k, from s.logits (n, L).
template <typename T>
void prefix_weights(Scratch<T>& s, int64_t n) {
  T* mx = s.run_max.data();
  T* norm = s.norm.data();
  T* step = s.step.data();
  const T* w = s.logits.data();
  T m[kLanes], z[kLanes];
  for (int64_t l = 0; l < kLanes; ++l) {
    m[l] = -std::numeric_limits<T>::infinity();
    z[l] = 0;
  }
  for (int64_t j = 0; j < n; ++j) {
#pragma omp simd
    for (int64_t l = 0; l < kLanes; ++l) {
      const T previous = m[l];
      m[l] = std::max(m[l], w[j * kLanes + l]);
      mx[j * kLanes + l] = m[l];
      norm[j * kLanes + l] = previous - m[l];  // exponent of the rescaling (-inf at j = 0)
    }
  }
  const int64_t total = n * kLanes;
#pragma omp simd
  for (int64_t i = 0; i < total; ++i) {
    norm[i] = exp_nonpositive(norm[i]);
    step[i] = exp_nonpositive(w[i] - mx[i]);
  }
  for (int64_t j = 0; j < n; ++j) {
#pragma omp simd
    for (int64_t l = 0; l < kLanes; ++l) {
      z[l] = norm[j * kLanes + l] * z[l] + step[j * kLanes + l];
      step[j * kLanes + l] = step[j * kLanes + l] / z[l];
    }
  }
}

// u_k = u_{k-1} + step_k (x^k - u_{k-1}) for k < n and kLanes rows, kBlock coordinates at a time (held in vector
// registers over the points). x: the points in column groups of kGroup coordinates, (d_pad / kGroup, n, kGroup),
// so that every block streams through contiguous memory. Without `distances`: writes u_N into s.r. With it:
// s.distance[k, l] = |u_k - r|^2.
constexpr int64_t kGroup = 4;

template <typename T, bool kDistances>
void run_means(Scratch<T>& s, const T* x, int64_t n, int64_t d_pad) {
  // u and r of kBlock coordinates x kLanes rows stay in registers (16 on AVX2): 8 + 8, or 4 + 4 + acc.
  constexpr int64_t kBlock = kDistances ? kDims / 2 : kDims;
  static_assert(kBlock % kGroup == 0, "a block is whole column groups");
  const T* step = s.step.data();
  T* dist = s.distance.data();
  if (kDistances) std::fill(s.distance.begin(), s.distance.end(), T(0));
  for (int64_t block = 0; block < d_pad; block += kBlock) {
    T u[kBlock][kLanes] = {};
    T r[kBlock][kLanes];
    for (int64_t c = 0; c < kBlock; ++c)
      for (int64_t l = 0; l < kLanes; ++l) r[c][l] = s.r[(block + c) * kLanes + l];
    const T* columns = x + (block / kGroup) * n * kGroup;
    for (int64_t k = 0; k < n; ++k) {
      const T* beta = step + k * kLanes;
      if (kDistances) {
        T acc[kLanes] = {};
        for (int64_t c = 0; c < kBlock; ++c) {
          const T y = columns[(c / kGroup) * n * kGroup + k * kGroup + c % kGroup];
#pragma omp simd
          for (int64_t l = 0; l < kLanes; ++l) {
            u[c][l] += beta[l] * (y - u[c][l]);
            const T diff = u[c][l] - r[c][l];
            acc[l] += diff * diff;
          }
        }
#pragma omp simd
        for (int64_t l = 0; l < kLanes; ++l) dist[k * kLanes + l] += acc[l];
      } else {
        for (int64_t c = 0; c < kBlock; ++c) {
          const T y = columns[(c / kGroup) * n * kGroup + k * kGroup + c % kGroup];
#pragma omp simd
          for (int64_t l = 0; l < kLanes; ++l) u[c][l] += beta[l] * (y - u[c][l]);
        }
      }
    }
    if (!kDistances)
      for (int64_t c = 0; c < kBlock; ++c)
        for (int64_t l = 0; l < kLanes; ++l) s.r[(block + c) * kLanes + l] = u[c][l];
  }
}

template <typename T>
struct Inputs {
  const T* zy;        // (S, R, Np)   z . Y_j
  const T* x;         // (Np, d)
  const T* centers;   // (S, d)
  const T* z;         // (S, R, d)
  const T* zv;        // (S, R, K)    z . (mu_k - x^s)
  const T* vdist2;    // (S, K)       |mu_k - x^s|^2
  const T* means;     // (K, d)
  const T* alphas;    // (T,)
  const T* sigmas;    // (T,)
  const T* sigma2;    // ()
  const T* sample_weights;  // (S,)
  const T* draw_weights;    // (R,)
};

template <typename T>
struct Outputs {
  T* pmem_mean;  // (T, G, Np): sums over the group's samples of the per-sample mean over draws
  T* pmem_m2;    // (T, G, Np): ... and of the centred sum of squares over draws
  T* gen_mean;   // (T, G)
  T* gen_m2;
  T* mem_mean;
  T* mem_m2;
};

// Weighted mean and centred sum of squares over the draws of values[r * stride + j] (r < draws, j < count),
// added (times `weight`) to mean_out[j], m2_out[j].
template <typename T>
void draw_stats(const T* values, int64_t stride, int64_t count, const T* draw_weights, int64_t draws, T weight,
                T* mean_out, T* m2_out, Scratch<T>& s) {
  T total = 0;
  for (int64_t r = 0; r < draws; ++r) total += draw_weights[r];
  T* mean = s.mean.data();
  T* m2 = s.m2.data();
  std::fill(mean, mean + count, T(0));
  std::fill(m2, m2 + count, T(0));
  for (int64_t r = 0; r < draws; ++r) {
    const T w = draw_weights[r];
    const T* v = values + r * stride;
#pragma omp simd
    for (int64_t j = 0; j < count; ++j) mean[j] += w * v[j];
  }
  for (int64_t j = 0; j < count; ++j) mean[j] /= total;
  for (int64_t r = 0; r < draws; ++r) {
    const T w = draw_weights[r];
    const T* v = values + r * stride;
#pragma omp simd
    for (int64_t j = 0; j < count; ++j) {
      const T diff = v[j] - mean[j];
      m2[j] += w * diff * diff;
    }
  }
  for (int64_t j = 0; j < count; ++j) {
    mean_out[j] += weight * mean[j];
    m2_out[j] += weight * m2[j];
  }
}

// x_* - x_mem for one row (eq. 11 with the true means): x_* = x^s + (sigma^2 / v)(sum_k pi_k mu_k - x^s)
// + (alpha sigma2 sigma / v) z; returns |x_* - x_mem|^2 with x_mem = r (lane l of s.r).
template <typename T>
T generalizing_excess(const Shapes& sh, const Inputs<T>& in, Scratch<T>& s, int64_t sample, int64_t row, int64_t l,
                      T alpha, T sigma, T sigma2) {
  const int64_t d = sh.d, kk = sh.k;
  const T total_var = alpha * alpha * sigma2 + sigma * sigma;
  const T* zv = in.zv + row * kk;
  const T* vdist2 = in.vdist2 + sample * kk;
  T top = -std::numeric_limits<T>::infinity();
  for (int64_t c = 0; c < kk; ++c) {
    s.gen_logits[c] = (alpha * sigma * zv[c] - T(0.5) * alpha * alpha * vdist2[c]) / total_var;
    top = std::max(top, s.gen_logits[c]);
  }
  T norm = 0;
  for (int64_t c = 0; c < kk; ++c) {
    s.gen_logits[c] = exp_nonpositive(s.gen_logits[c] - top);
    norm += s.gen_logits[c];
  }
  std::fill(s.gen.begin(), s.gen.end(), T(0));
  for (int64_t c = 0; c < kk; ++c) {
    const T weight = s.gen_logits[c] / norm;
    const T* mu = in.means + c * d;
#pragma omp simd
    for (int64_t i = 0; i < d; ++i) s.gen[i] += weight * mu[i];
  }
  const T mean_coef = sigma * sigma / total_var, noise_coef = alpha * sigma2 * sigma / total_var;
  const T* center = in.centers + sample * d;
  const T* zrow = in.z + row * d;
  T total = 0;
  for (int64_t i = 0; i < d; ++i) {
    const T diff = mean_coef * (s.gen[i] - center[i]) + noise_coef * zrow[i] - (s.r[i * kLanes + l] - center[i]);
    total += diff * diff;
  }
  return total;
}

// Task (group, t): every row of the group's samples at timestep t, kLanes rows at a time (across samples), then
// each sample's draw statistics added to the group's output slot.
template <typename T>
void group_at_time(const Shapes& sh, const Inputs<T>& in, const Outputs<T>& out, const T* x, int64_t d_pad,
                   Scratch<T>& s, int64_t group, int64_t t, int64_t first_sample, int64_t last_sample) {
  const int64_t n = sh.n, d = sh.d, np = sh.n_pad, draws = sh.draws;
  const T alpha = in.alphas[t], sigma = in.sigmas[t], sigma2 = in.sigma2[0];
  const T quad = -(alpha * alpha) / (2 * sigma * sigma), lin = alpha / sigma;
  const int64_t first_row = first_sample * draws, rows = (last_sample - first_sample) * draws;
  for (int64_t sample = first_sample; sample < last_sample; ++sample) {  // |x^j - x^s|^2, differences first
    const T* center = in.centers + sample * d;
    T* dist2 = s.dist2.data() + (sample - first_sample) * n;
    for (int64_t j = 0; j < n; ++j) {
      const T* xj = in.x + j * d;
      T total = 0;
#pragma omp simd reduction(+ : total)
      for (int64_t i = 0; i < d; ++i) {
        const T diff = xj[i] - center[i];
        total += diff * diff;
      }
      dist2[j] = total;
    }
  }
  for (int64_t pack = 0; pack < rows; pack += kLanes) {
    const int64_t lanes = std::min(kLanes, rows - pack);
    for (int64_t l = 0; l < kLanes; ++l) {  // logits, lane-major; unused lanes repeat the last row
      const int64_t row = first_row + pack + std::min(l, lanes - 1);
      const T* zy = in.zy + row * np;
      const T* dist2 = s.dist2.data() + (row / draws - first_sample) * n;
      for (int64_t j = 0; j < n; ++j) s.logits[j * kLanes + l] = quad * dist2[j] + lin * zy[j];
    }
    prefix_weights(s, n);
    run_means<T, false>(s, x, n, d_pad);  // r = u_N = x_mem(X)
    run_means<T, true>(s, x, n, d_pad);   // the same recursion again, with |u_k - r|^2 (0 exactly at k = N)
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t local = pack + l, row = first_row + local, sample = row / draws;
      T* excess = s.excess.data() + local * n;
      for (int64_t k = 0; k < n; ++k) excess[k] = s.distance[k * kLanes + l];
      const T* center = in.centers + sample * d;
      T loss = 0;
      for (int64_t i = 0; i < d; ++i) {
        const T diff = s.r[i * kLanes + l] - center[i];
        loss += diff * diff;
      }
      s.loss_mem[local] = loss;
      s.excess_gen[local] = generalizing_excess(sh, in, s, sample, row, l, alpha, sigma, sigma2);
    }
  }
  const int64_t slot = t * sh.groups + group;
  for (int64_t sample = first_sample; sample < last_sample; ++sample) {
    const int64_t local = (sample - first_sample) * draws;
    const T weight = in.sample_weights[sample];
    draw_stats(s.excess.data() + local * n, n, n, in.draw_weights, draws, weight, out.pmem_mean + slot * np,
               out.pmem_m2 + slot * np, s);
    draw_stats(s.excess_gen.data() + local, 1, 1, in.draw_weights, draws, weight, out.gen_mean + slot,
               out.gen_m2 + slot, s);
    draw_stats(s.loss_mem.data() + local, 1, 1, in.draw_weights, draws, weight, out.mem_mean + slot,
               out.mem_m2 + slot, s);
  }
}

template <typename T>
void run_tile(const Shapes& sh, const Inputs<T>& in, const Outputs<T>& out, int64_t threads) {
  const int64_t np = sh.n_pad, d = sh.d;
  std::fill(out.pmem_mean, out.pmem_mean + sh.times * sh.groups * np, T(0));
  std::fill(out.pmem_m2, out.pmem_m2 + sh.times * sh.groups * np, T(0));
  for (T* p : {out.gen_mean, out.gen_m2, out.mem_mean, out.mem_m2}) std::fill(p, p + sh.times * sh.groups, T(0));
  // The training points in column groups, (d_pad / kGroup, n, kGroup), coordinates zero-padded to whole register
  // blocks; shared by the threads.
  const int64_t d_pad = (d + kDims - 1) / kDims * kDims;
  std::vector<T> x(sh.n * d_pad, T(0));
  for (int64_t j = 0; j < sh.n; ++j)
    for (int64_t i = 0; i < d; ++i) x[(i / kGroup) * sh.n * kGroup + j * kGroup + i % kGroup] = in.x[j * d + i];
  // Task (group, t): the group's samples at timestep t; each task writes only its own output slot.
  const int64_t tasks = sh.groups * sh.times;
  const int64_t per_group = (sh.samples + sh.groups - 1) / sh.groups;
  std::atomic<int64_t> next(0);
  auto worker = [&]() {
    Scratch<T> s(sh, d_pad, per_group);
    for (int64_t task = next++; task < tasks; task = next++) {
      const int64_t group = task / sh.times, t = task % sh.times;
      const int64_t first = std::min(sh.samples, group * per_group), last = std::min(sh.samples, first + per_group);
      group_at_time(sh, in, out, x.data(), d_pad, s, group, t, first, last);
    }
  };
  const int64_t count = std::max<int64_t>(1, std::min(threads, tasks));
  std::vector<std::thread> pool;
  for (int64_t i = 1; i < count; ++i) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
}

template <ffi::DataType DT>
ffi::Error McTile(ffi::Buffer<DT> zy, ffi::Buffer<DT> x, ffi::Buffer<DT> centers,
                  ffi::Buffer<DT> z, ffi::Buffer<DT> zv, ffi::Buffer<DT> vdist2, ffi::Buffer<DT> means,
                  ffi::Buffer<DT> alphas, ffi::Buffer<DT> sigmas, ffi::Buffer<DT> sigma2,
                  ffi::Buffer<DT> sample_weights, ffi::Buffer<DT> draw_weights, ffi::ResultBuffer<DT> pmem_mean,
                  ffi::ResultBuffer<DT> pmem_m2, ffi::ResultBuffer<DT> gen_mean, ffi::ResultBuffer<DT> gen_m2,
                  ffi::ResultBuffer<DT> mem_mean, ffi::ResultBuffer<DT> mem_m2, int64_t n, int64_t threads) {
  using T = ffi::NativeType<DT>;
  const auto zy_dims = zy.dimensions();
  const auto x_dims = x.dimensions();
  const auto means_dims = means.dimensions();
  const auto out_dims = pmem_mean->dimensions();
  if (zy_dims.size() != 3 || x_dims.size() != 2 || means_dims.size() != 2 || out_dims.size() != 3) {
    return ffi::Error::InvalidArgument("memlab_mc_tile: unexpected ranks");
  }
  Shapes sh{alphas.dimensions()[0], zy_dims[0], zy_dims[1], zy_dims[2], n, x_dims[1], means_dims[0], out_dims[1]};
  if (n < 1 || n > sh.n_pad || x_dims[0] != sh.n_pad || out_dims[0] != sh.times || out_dims[2] != sh.n_pad ||
      sh.groups < 1 || sh.groups > std::max<int64_t>(sh.samples, 1)) {
    return ffi::Error::InvalidArgument("memlab_mc_tile: inconsistent shapes");
  }
  Inputs<T> in{zy.typed_data(), x.typed_data(), centers.typed_data(), z.typed_data(),
               zv.typed_data(), vdist2.typed_data(), means.typed_data(), alphas.typed_data(), sigmas.typed_data(),
               sigma2.typed_data(), sample_weights.typed_data(), draw_weights.typed_data()};
  Outputs<T> out{pmem_mean->typed_data(), pmem_m2->typed_data(), gen_mean->typed_data(), gen_m2->typed_data(),
                 mem_mean->typed_data(), mem_m2->typed_data()};
  run_tile(sh, in, out, threads);
  return ffi::Error::Success();
}

}  // namespace

// 12 input buffers, 6 results, attributes n (real training points) and threads.
#define MEMLAB_IN(DT) .Arg<ffi::Buffer<DT>>()
#define MEMLAB_OUT(DT) .Ret<ffi::Buffer<DT>>()
#define MEMLAB_BIND(DT)                                                                                    \
  ffi::Ffi::Bind() MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT)     \
      MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT) MEMLAB_IN(DT)                  \
      MEMLAB_OUT(DT) MEMLAB_OUT(DT) MEMLAB_OUT(DT) MEMLAB_OUT(DT) MEMLAB_OUT(DT) MEMLAB_OUT(DT)            \
      .Attr<int64_t>("n")                                                                                  \
      .Attr<int64_t>("threads")

XLA_FFI_DEFINE_HANDLER_SYMBOL(MemlabMcTileF32, McTile<ffi::DataType::F32>, MEMLAB_BIND(ffi::DataType::F32));
XLA_FFI_DEFINE_HANDLER_SYMBOL(MemlabMcTileF64, McTile<ffi::DataType::F64>, MEMLAB_BIND(ffi::DataType::F64));
