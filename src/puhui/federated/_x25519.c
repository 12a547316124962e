/* Batched X25519 (RFC 7748) and Elligator 2 for ECDH-PSI, eight points at a time (AVX-512 IFMA).
 *
 * PSI raises a million points to one key. Calling libsodium once a point from Python costs about
 * 55 us on this project's Xeon. Here a whole batch is one call and eight points go through the
 * Montgomery ladder side by side, one 64-bit lane each, field elements in radix 2^51 multiplied
 * with the 52-bit IFMA instructions; the same lanes run the hash's Elligator 2 map. CPUs without
 * IFMA are refused (psi_math then uses libsodium and gmpy2). Results are the bytes libsodium's
 * crypto_scalarmult and psi_math's gmpy2 map give (tests check this) and, as libsodium does,
 * a point whose result is the all-zero string (a point of small order) is refused.
 *
 * The key's bits steer the ladder's swaps through masks, never branches or addresses, so the
 * time taken does not depend on the key (it is the same key in all eight lanes).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define PUHUI_HAVE_IFMA_BUILD 1
#include <immintrin.h>
#endif

#define MASK51 ((uint64_t)0x7ffffffffffff)
#define A24 121665 /* (486662 - 2) / 4, RFC 7748 */

/* ---- field elements, radix 2^51, packing and unpacking ----------------------------------- */

static uint64_t load64(const uint8_t *s) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--) w = (w << 8) | s[i];
    return w;
}

/* 32 little-endian bytes to five 51-bit limbs; bit 255 is ignored, as RFC 7748 asks. */
static void fe_frombytes(uint64_t h[5], const uint8_t s[32]) {
    uint64_t w0 = load64(s), w1 = load64(s + 8), w2 = load64(s + 16), w3 = load64(s + 24);
    h[0] = w0 & MASK51;
    h[1] = ((w0 >> 51) | (w1 << 13)) & MASK51;
    h[2] = ((w1 >> 38) | (w2 << 26)) & MASK51;
    h[3] = ((w2 >> 25) | (w3 << 39)) & MASK51;
    h[4] = (w3 >> 12) & MASK51;
}

static void fe_carry_chain(uint64_t t[5]) {
    for (int i = 0; i < 4; i++) {
        t[i + 1] += t[i] >> 51;
        t[i] &= MASK51;
    }
    t[0] += 19 * (t[4] >> 51);
    t[4] &= MASK51;
}

/* The canonical (fully reduced mod p) 32 bytes of a field element with limbs below 2^62. */
static void fe_tobytes(uint8_t out[32], const uint64_t in[5]) {
    uint64_t t[5] = {in[0], in[1], in[2], in[3], in[4]};
    fe_carry_chain(t);
    fe_carry_chain(t);
    fe_carry_chain(t);
    /* t < 2^255 now; q = 1 exactly when t >= p = 2^255 - 19. */
    uint64_t q = (t[0] + 19) >> 51;
    q = (t[1] + q) >> 51;
    q = (t[2] + q) >> 51;
    q = (t[3] + q) >> 51;
    q = (t[4] + q) >> 51;
    t[0] += 19 * q;
    for (int i = 0; i < 4; i++) {
        t[i + 1] += t[i] >> 51;
        t[i] &= MASK51;
    }
    t[4] &= MASK51;
    uint64_t w[4] = {
        t[0] | (t[1] << 51),
        (t[1] >> 13) | (t[2] << 38),
        (t[2] >> 26) | (t[3] << 25),
        (t[3] >> 39) | (t[4] << 12),
    };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) out[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

/* ---- AVX-512 IFMA path: eight points side by side --------------------------------------- */

#ifdef PUHUI_HAVE_IFMA_BUILD
#define IFMA __attribute__((target("avx512f,avx512ifma"), always_inline)) static inline

typedef struct {
    __m512i v[5];
} fe8;

/* One parallel carry round: limbs below 2^63 in, below 2^51 + 2^15 out (IFMA reads 52 bits). */
IFMA fe8 carry8(fe8 a) {
    const __m512i mask = _mm512_set1_epi64((long long)MASK51);
    __m512i c[5];
    for (int i = 0; i < 5; i++) c[i] = _mm512_srli_epi64(a.v[i], 51);
    fe8 r;
    __m512i c19 = _mm512_add_epi64(_mm512_add_epi64(c[4], _mm512_slli_epi64(c[4], 1)),
                                   _mm512_slli_epi64(c[4], 4));
    r.v[0] = _mm512_add_epi64(_mm512_and_si512(a.v[0], mask), c19);
    for (int i = 1; i < 5; i++) r.v[i] = _mm512_add_epi64(_mm512_and_si512(a.v[i], mask), c[i - 1]);
    return r;
}

IFMA fe8 add8(fe8 a, fe8 b) {
    fe8 r;
    for (int i = 0; i < 5; i++) r.v[i] = _mm512_add_epi64(a.v[i], b.v[i]);
    return carry8(r);
}

IFMA fe8 sub8(fe8 a, fe8 b) {
    fe8 r;
    const __m512i two_p0 = _mm512_set1_epi64(0xfffffffffffda);
    const __m512i two_p = _mm512_set1_epi64(0xffffffffffffe);
    r.v[0] = _mm512_sub_epi64(_mm512_add_epi64(a.v[0], two_p0), b.v[0]);
    for (int i = 1; i < 5; i++) r.v[i] = _mm512_sub_epi64(_mm512_add_epi64(a.v[i], two_p), b.v[i]);
    return carry8(r);
}

/* Columns lo[k] + 2 hi[k] (a 104-bit product's high half sits at 2^52 = 2 * 2^51), then
 * 2^255 = 19 folds columns 5..9 onto 0..4. */
IFMA fe8 fold8(const __m512i lo[10], const __m512i hi[10]) {
    __m512i col[10];
    for (int k = 0; k < 10; k++) col[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k], 1));
    fe8 r;
    for (int k = 0; k < 5; k++) {
        __m512i high = col[k + 5];
        __m512i times19 = _mm512_add_epi64(_mm512_add_epi64(high, _mm512_slli_epi64(high, 1)),
                                           _mm512_slli_epi64(high, 4));
        r.v[k] = _mm512_add_epi64(col[k], times19);
    }
    return carry8(r);
}

IFMA fe8 mul8(fe8 a, fe8 b) {
    __m512i lo[10], hi[10];
    for (int k = 0; k < 10; k++) lo[k] = hi[k] = _mm512_setzero_si512();
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a.v[i], b.v[j]);
            hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a.v[i], b.v[j]);
        }
    return fold8(lo, hi);
}

/* Squaring: each cross product once, doubled, then the squares on the diagonal. */
IFMA fe8 sqr8(fe8 a) {
    __m512i lo[10], hi[10];
    for (int k = 0; k < 10; k++) lo[k] = hi[k] = _mm512_setzero_si512();
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a.v[i], a.v[j]);
            hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a.v[i], a.v[j]);
        }
    for (int k = 0; k < 10; k++) {
        lo[k] = _mm512_slli_epi64(lo[k], 1);
        hi[k] = _mm512_slli_epi64(hi[k], 1);
    }
    for (int i = 0; i < 5; i++) {
        lo[2 * i] = _mm512_madd52lo_epu64(lo[2 * i], a.v[i], a.v[i]);
        hi[2 * i + 1] = _mm512_madd52hi_epu64(hi[2 * i + 1], a.v[i], a.v[i]);
    }
    return fold8(lo, hi);
}

IFMA fe8 mul_a24_8(fe8 a) {
    const __m512i k = _mm512_set1_epi64(A24);
    __m512i lo[10], hi[10];
    for (int i = 0; i < 10; i++) lo[i] = hi[i] = _mm512_setzero_si512();
    for (int i = 0; i < 5; i++) {
        lo[i] = _mm512_madd52lo_epu64(lo[i], a.v[i], k);
        hi[i + 1] = _mm512_madd52hi_epu64(hi[i + 1], a.v[i], k);
    }
    return fold8(lo, hi);
}

IFMA void cswap8(fe8 *f, fe8 *g, uint64_t swap) {
    const __m512i mask = _mm512_set1_epi64((long long)((uint64_t)0 - swap));
    for (int i = 0; i < 5; i++) {
        __m512i x = _mm512_and_si512(_mm512_xor_si512(f->v[i], g->v[i]), mask);
        f->v[i] = _mm512_xor_si512(f->v[i], x);
        g->v[i] = _mm512_xor_si512(g->v[i], x);
    }
}

#define IFMA_FN __attribute__((target("avx512f,avx512ifma"))) static

IFMA fe8 sqr8_times(fe8 a, int times) {
    for (int i = 0; i < times; i++) a = sqr8(a);
    return a;
}

/* z^(2^250 - 1) by ref10's addition chain, handing back z^2 and z^11 on the way. */
IFMA_FN fe8 pow_2_250_minus_1(fe8 z, fe8 *z2, fe8 *z11) {
    *z2 = sqr8(z);
    fe8 z9 = mul8(sqr8_times(*z2, 2), z);
    *z11 = mul8(z9, *z2);
    fe8 z2_5_0 = mul8(sqr8(*z11), z9);
    fe8 z2_10_0 = mul8(sqr8_times(z2_5_0, 5), z2_5_0);
    fe8 z2_20_0 = mul8(sqr8_times(z2_10_0, 10), z2_10_0);
    fe8 z2_40_0 = mul8(sqr8_times(z2_20_0, 20), z2_20_0);
    fe8 z2_50_0 = mul8(sqr8_times(z2_40_0, 10), z2_10_0);
    fe8 z2_100_0 = mul8(sqr8_times(z2_50_0, 50), z2_50_0);
    fe8 z2_200_0 = mul8(sqr8_times(z2_100_0, 100), z2_100_0);
    return mul8(sqr8_times(z2_200_0, 50), z2_50_0);
}

/* 1/z = z^(p - 2) = z^(2^255 - 21). */
IFMA_FN fe8 invert8(fe8 z) {
    fe8 z2, z11;
    fe8 t = pow_2_250_minus_1(z, &z2, &z11);
    return mul8(sqr8_times(t, 5), z11);
}

/* Euler's criterion z^((p - 1) / 2) = z^(2^254 - 10): 1 for a square, p - 1 for a non-square. */
IFMA_FN fe8 legendre8(fe8 z) {
    fe8 z2, z11;
    fe8 t = pow_2_250_minus_1(z, &z2, &z11);
    return mul8(sqr8_times(t, 4), mul8(z2, sqr8(z2)));
}

IFMA fe8 constant8(const uint64_t limbs[5]) {
    fe8 r;
    for (int i = 0; i < 5; i++) r.v[i] = _mm512_set1_epi64((long long)limbs[i]);
    return r;
}

IFMA fe8 load8(const uint8_t *items[8]) {
    uint64_t limbs[5][8] __attribute__((aligned(64)));
    for (int lane = 0; lane < 8; lane++) {
        uint64_t h[5];
        fe_frombytes(h, items[lane]);
        for (int i = 0; i < 5; i++) limbs[i][lane] = h[i];
    }
    fe8 r;
    for (int i = 0; i < 5; i++) r.v[i] = _mm512_load_si512(limbs[i]);
    return r;
}

IFMA void store8(uint8_t out[8][32], fe8 a) {
    uint64_t limbs[5][8] __attribute__((aligned(64)));
    for (int i = 0; i < 5; i++) _mm512_store_si512(limbs[i], a.v[i]);
    for (int lane = 0; lane < 8; lane++) {
        uint64_t h[5];
        for (int i = 0; i < 5; i++) h[i] = limbs[i][lane];
        fe_tobytes(out[lane], h);
    }
}

static const uint64_t FE_ONE[5] = {1, 0, 0, 0, 0};
static const uint64_t FE_ZERO[5] = {0, 0, 0, 0, 0};
/* p - 486662, i.e. -A for Curve25519's Montgomery coefficient A. */
static const uint64_t FE_MINUS_A[5] = {MASK51 - 18 - 486662, MASK51, MASK51, MASK51, MASK51};

IFMA_FN void x25519_eight(uint8_t out[8][32], const uint8_t scalar[32], const uint8_t *points[8]) {
    fe8 x1 = load8(points), x2 = constant8(FE_ONE), z2 = constant8(FE_ZERO), x3 = x1;
    fe8 z3 = constant8(FE_ONE);
    uint64_t swap = 0;
    for (int pos = 254; pos >= 0; pos--) {
        uint64_t bit = (scalar[pos >> 3] >> (pos & 7)) & 1;
        swap ^= bit;
        cswap8(&x2, &x3, swap);
        cswap8(&z2, &z3, swap);
        swap = bit;
        fe8 a = add8(x2, z2), b = sub8(x2, z2), c = add8(x3, z3), d = sub8(x3, z3);
        fe8 aa = sqr8(a), bb = sqr8(b), da = mul8(d, a), cb = mul8(c, b);
        fe8 e = sub8(aa, bb);
        x3 = sqr8(add8(da, cb));
        z3 = mul8(x1, sqr8(sub8(da, cb)));
        x2 = mul8(aa, bb);
        z2 = mul8(e, add8(aa, mul_a24_8(e)));
    }
    cswap8(&x2, &x3, swap);
    cswap8(&z2, &z3, swap);
    store8(out, mul8(x2, invert8(z2)));
}

/* Elligator 2, u only: u = -A / (1 + 2 r^2), or -A - u when u^3 + A u^2 + u is not a square
 * (2 is the non-square; 1 + 2 r^2 is never 0 mod p). */
IFMA_FN void elligator2_eight(uint8_t out[8][32], const uint8_t *fields[8]) {
    fe8 r = load8(fields), one = constant8(FE_ONE), minus_a = constant8(FE_MINUS_A);
    fe8 r2 = sqr8(r);
    fe8 u = mul8(minus_a, invert8(add8(one, add8(r2, r2))));
    fe8 u_plus_a = sub8(u, minus_a);
    fe8 curve_side = mul8(u, add8(mul8(u, u_plus_a), one));
    uint8_t symbol[8][32], first[8][32], other[8][32];
    store8(symbol, legendre8(curve_side));
    store8(first, u);
    store8(other, sub8(minus_a, u));
    for (int lane = 0; lane < 8; lane++) {
        /* The symbol is 1 or p - 1; its low byte tells them apart (0x01 or 0xec). */
        uint8_t non_square = (uint8_t)(0 - (uint8_t)(symbol[lane][0] != 1));
        for (int i = 0; i < 32; i++)
            out[lane][i] = first[lane][i] ^ ((first[lane][i] ^ other[lane][i]) & non_square);
    }
}
#endif

/* ---- batch drivers and Python binding --------------------------------------------------- */

static int cpu_has_ifma(void) {
#ifdef PUHUI_HAVE_IFMA_BUILD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
#else
    return 0;
#endif
}

static int is_zero(const uint8_t s[32]) {
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++) acc |= s[i];
    return acc == 0;
}

#ifdef PUHUI_HAVE_IFMA_BUILD
/* Raise n points to the clamped scalar; keep the first `keep` bytes of each result.
 * Returns the index of the first point whose result is zero, or -1 when there is none. */
static Py_ssize_t scalarmult_batch(uint8_t *out, const uint8_t scalar[32], const uint8_t *points,
                                   Py_ssize_t n, Py_ssize_t keep) {
    static const uint8_t nine[32] = {9}; /* the base point pads the last group of eight */
    Py_ssize_t first_zero = -1;
    for (Py_ssize_t done = 0; done < n; done += 8) {
        const uint8_t *lanes[8];
        uint8_t results[8][32];
        for (int lane = 0; lane < 8; lane++)
            lanes[lane] = done + lane < n ? points + 32 * (done + lane) : nine;
        x25519_eight(results, scalar, lanes);
        for (int lane = 0; lane < 8 && done + lane < n; lane++) {
            if (first_zero < 0 && is_zero(results[lane])) first_zero = done + lane;
            memcpy(out + keep * (done + lane), results[lane], (size_t)keep);
        }
    }
    return first_zero;
}

static void elligator2_batch(uint8_t *out, const uint8_t *fields, Py_ssize_t n) {
    static const uint8_t zero[32] = {0};
    for (Py_ssize_t done = 0; done < n; done += 8) {
        const uint8_t *lanes[8];
        uint8_t results[8][32];
        for (int lane = 0; lane < 8; lane++)
            lanes[lane] = done + lane < n ? fields + 32 * (done + lane) : zero;
        elligator2_eight(results, lanes);
        for (int lane = 0; lane < 8 && done + lane < n; lane++)
            memcpy(out + 32 * (done + lane), results[lane], 32);
    }
}
#endif

static int require_vector_path(void) {
    if (cpu_has_ifma()) return 1;
    PyErr_SetString(PyExc_RuntimeError,
                    "this CPU has no AVX-512 IFMA; use libsodium (psi_math falls back by itself)");
    return 0;
}

static PyObject *py_scalarmult_many(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"key", "points", "keep", NULL};
    Py_buffer key, points;
    Py_ssize_t keep = 32;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*|n", keywords, &key, &points, &keep))
        return NULL;
    PyObject *result = NULL;
    if (!require_vector_path()) goto done;
    if (key.len != 32) {
        PyErr_Format(PyExc_ValueError, "key is %zd bytes, not 32", key.len);
        goto done;
    }
    if (points.len % 32) {
        PyErr_Format(PyExc_ValueError, "points blob of %zd bytes is not whole 32-byte points",
                     points.len);
        goto done;
    }
    if (keep < 1 || keep > 32) {
        PyErr_Format(PyExc_ValueError, "keep must be 1..32 bytes, not %zd", keep);
        goto done;
    }
#ifdef PUHUI_HAVE_IFMA_BUILD
    Py_ssize_t n = points.len / 32;
    result = PyBytes_FromStringAndSize(NULL, n * keep);
    if (result == NULL) goto done;
    uint8_t scalar[32];
    memcpy(scalar, key.buf, 32);
    scalar[0] &= 248;
    scalar[31] &= 127;
    scalar[31] |= 64;
    Py_ssize_t first_zero;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *in = (const uint8_t *)points.buf;
    Py_BEGIN_ALLOW_THREADS first_zero = scalarmult_batch(out, scalar, in, n, keep);
    Py_END_ALLOW_THREADS
    memset(scalar, 0, sizeof scalar);
    if (first_zero >= 0) {
        Py_CLEAR(result);
        PyErr_Format(PyExc_ValueError,
                     "point %zd is of small order (its X25519 result is zero); refused", first_zero);
    }
#endif
done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&points);
    return result;
}

static PyObject *py_elligator2_many(PyObject *self, PyObject *arg) {
    Py_buffer fields;
    (void)self;
    if (PyObject_GetBuffer(arg, &fields, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    if (!require_vector_path()) goto done;
    if (fields.len % 32) {
        PyErr_Format(PyExc_ValueError, "field blob of %zd bytes is not whole 32-byte elements",
                     fields.len);
        goto done;
    }
#ifdef PUHUI_HAVE_IFMA_BUILD
    result = PyBytes_FromStringAndSize(NULL, fields.len);
    if (result == NULL) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *in = (const uint8_t *)fields.buf;
    Py_ssize_t n = fields.len / 32;
    Py_BEGIN_ALLOW_THREADS elligator2_batch(out, in, n);
    Py_END_ALLOW_THREADS
#endif
done:
    PyBuffer_Release(&fields);
    return result;
}

static PyObject *py_has_vector_path(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyBool_FromLong(cpu_has_ifma());
}

static PyMethodDef methods[] = {
    {"scalarmult_many", (PyCFunction)(void (*)(void))py_scalarmult_many,
     METH_VARARGS | METH_KEYWORDS,
     "scalarmult_many(key, points, keep=32) -> bytes\n\n"
     "X25519 of each 32-byte point in `points` by `key` (clamped as RFC 7748), the first `keep`\n"
     "bytes of each result concatenated. ValueError for a point of small order."},
    {"elligator2_many", py_elligator2_many, METH_O,
     "elligator2_many(fields) -> bytes\n\n"
     "Elligator 2 u-coordinate (32 bytes, canonical) of each 32-byte little-endian field element\n"
     "(bit 255 ignored)."},
    {"has_vector_path", py_has_vector_path, METH_NOARGS,
     "Whether this CPU has AVX-512 IFMA, which both batch functions need."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_x25519", "Batched X25519 and Elligator 2 for ECDH-PSI.", -1, methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__x25519(void) { return PyModule_Create(&module); }
