import Synchronization

/// The work buffers of one BERT forward pass, kept between calls so steady-state batches allocate nothing.
///
/// Fresh multi-megabyte buffers per batch cost page faults and kernel page zeroing on every call (~3% of
/// a batch here); a reused workspace touches only warm memory. Buffers grow to the largest pass seen.
final class EncoderWorkspace: @unchecked Sendable {
    // @unchecked Sendable: a workspace is used by one forward pass at a time; `EncoderWorkspacePool` hands
    // each one to a single caller and takes it back after the pass.

    /// Tokens the token-major buffers hold.
    private(set) var tokenCapacity = 0
    /// Floats in `scores`.
    private(set) var scoreCapacity = 0
    /// Floats between one thread's score matrix and the next.
    private(set) var scoreStride = 1
    /// [T, H]: the hidden states, in place through the layers; the pass's output.
    private(set) var hidden = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// [T, 3H]: fused query/key/value projections.
    private(set) var qkv = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// [T, H]: attention output before its projection.
    private(set) var context = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// [T, H]: a projection's output before bias + residual + LayerNorm.
    private(set) var projected = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// [T, I]: the feed-forward block's inner activations.
    private(set) var intermediate = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// One [L, L] attention score matrix per thread of the pass.
    private(set) var scores = UnsafeMutablePointer<Float>.allocate(capacity: 1)

    /// Makes room for `tokens` rows and `threads` score matrices of the `longest` sequence.
    func reserve(tokens: Int, longest: Int, threads: Int, configuration c: BertConfiguration) {
        if tokens > tokenCapacity {
            for buffer in [hidden, qkv, context, projected, intermediate] { buffer.deallocate() }
            hidden = .allocate(capacity: tokens * c.hiddenSize)
            qkv = .allocate(capacity: tokens * 3 * c.hiddenSize)
            context = .allocate(capacity: tokens * c.hiddenSize)
            projected = .allocate(capacity: tokens * c.hiddenSize)
            intermediate = .allocate(capacity: tokens * c.intermediateSize)
            tokenCapacity = tokens
        }
        scoreStride = max(1, longest * longest)
        let needed = threads * scoreStride
        if needed > scoreCapacity {
            scores.deallocate()
            scores = .allocate(capacity: needed)
            scoreCapacity = needed
        }
    }

    deinit {
        for buffer in [hidden, qkv, context, projected, intermediate, scores] { buffer.deallocate() }
    }
}

/// Idle workspaces shared by the calls of one encoder; at most one per concurrent pass exists.
///
/// A workspace grown past `retainedTokens` (a batch of unusually long texts) is freed after its pass
/// instead of kept, so steady-state memory stays bounded by ordinary batches.
final class EncoderWorkspacePool: Sendable {
    private let idle = Mutex<[EncoderWorkspace]>([])
    /// Largest workspace (in tokens) kept for reuse: 4096 tokens of MiniLM is ~55 MiB.
    let retainedTokens: Int

    init(retainedTokens: Int = 4096) {
        self.retainedTokens = retainedTokens
    }

    /// Runs `body` with a workspace of its own, then keeps the workspace for the next call.
    func withWorkspace<R>(_ body: (EncoderWorkspace) throws -> R) rethrows -> R {
        let workspace = idle.withLock { $0.popLast() } ?? EncoderWorkspace()
        defer {
            if workspace.tokenCapacity <= retainedTokens {
                idle.withLock { $0.append(workspace) }
            }
        }
        return try body(workspace)
    }
}
