import COpenBLAS

/// The one owner of OpenBLAS threading and the typed entry points to its kernels.
///
/// Every matrix product in Neural goes through these wrappers (row-major, transpose flags instead of copies).
public enum BLAS {
    /// Sets how many threads OpenBLAS may use for one call. Call once at start-up, before any model runs.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major.
    ///
    /// - Parameters:
    ///   - transA: use Aᵀ; A is stored [k×m] when true, [m×k] otherwise.
    ///   - transB: use Bᵀ; B is stored [n×k] when true (PyTorch `Linear` weights), [k×n] otherwise.
    @inline(__always)
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[m] = alpha · op(A) · x + beta · y with A stored row-major [m×n].
    @inline(__always)
    public static func sgemv(
        trans: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, 1, beta, y, 1)
    }
}
