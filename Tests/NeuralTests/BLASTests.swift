import Testing
@testable import Neural

struct BLASTests {
    @Test func sgemmMatchesHandComputedProduct() {
        // [2×3]·[3×2] = [[58, 64], [139, 154]]
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [7, 8, 9, 10, 11, 12]
        var c = [Float](repeating: 0, count: 4)
        c.withUnsafeMutableBufferPointer { cp in
            BLAS.sgemm(m: 2, n: 2, k: 3, a: a, lda: 3, b: b, ldb: 2, c: cp.baseAddress!, ldc: 2)
        }
        #expect(c == [58, 64, 139, 154])
    }
}
