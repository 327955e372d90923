import RealModule

/// AdamW (decoupled weight decay) over a fixed list of trainable tensors, with global-norm clipping.
public final class AdamW {
    /// β1, β2, ε and decoupled weight decay.
    public struct Hyperparameters: Sendable, Equatable, Codable {
        /// First-moment decay.
        public var beta1: Float = 0.9
        /// Second-moment decay.
        public var beta2: Float = 0.999
        /// Denominator guard.
        public var epsilon: Float = 1e-8
        /// Decoupled decay (not applied to 1-D tensors).
        public var weightDecay: Float = 0.01

        /// Creates hyper-parameters (defaults as PyTorch AdamW, weight decay 0.01 as the reference).
        public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    /// The updated tensors.
    public let tensors: [TrainTensor]
    /// Hyper-parameters.
    public let hyper: Hyperparameters
    /// First moments, one per tensor.
    public let firstMoments: [TrainTensor]
    /// Second moments, one per tensor.
    public let secondMoments: [TrainTensor]
    /// Updates done so far (bias correction uses it).
    public var updates = 0
    // 1-D tensors (norm weights) are not decayed, as in Hugging Face's Trainer.
    private let decays: [Bool]

    /// Creates moments for `tensors` (each must have a gradient).
    public init(tensors: [TrainTensor], hyper: Hyperparameters) {
        precondition(tensors.allSatisfy { $0.grad != nil }, "AdamW needs trainable tensors")
        self.tensors = tensors
        self.hyper = hyper
        firstMoments = tensors.map { TrainTensor(name: $0.name + ".exp_avg", shape: $0.shape) }
        secondMoments = tensors.map { TrainTensor(name: $0.name + ".exp_avg_sq", shape: $0.shape) }
        decays = tensors.map { $0.shape.count > 1 }
    }

    /// The global L2 norm of all gradients (accumulated in Double).
    public func gradientNorm() -> Double {
        var total = 0.0
        for t in tensors {
            let g = t.grad!
            var s: Float = 0
            for i in 0..<t.count { s = Relaxed.multiplyAdd(g[i], g[i], s) }
            total += Double(s)
        }
        return total.squareRoot()
    }

    /// Scales every gradient so the global norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Float?) -> Double {
        let norm = gradientNorm()
        guard let maxNorm, norm.isFinite, norm > Double(maxNorm) else { return norm }
        let factor = Float(Double(maxNorm) / (norm + 1e-6))
        for t in tensors {
            let g = t.grad!
            for i in 0..<t.count { g[i] *= factor }
        }
        return norm
    }

    /// One AdamW update with learning rate `lr`.
    public func step(learningRate lr: Float) {
        updates += 1
        let b1 = hyper.beta1, b2 = hyper.beta2, eps = hyper.epsilon
        let c1 = 1 - Float.pow(b1, Float(updates))
        let c2 = 1 - Float.pow(b2, Float(updates))
        for (k, t) in tensors.enumerated() {
            let p = t.data, g = t.grad!
            let m = firstMoments[k].data, v = secondMoments[k].data
            let decay: Float = decays[k] ? 1 - lr * hyper.weightDecay : 1
            for i in 0..<t.count {
                let gi = g[i]
                let mi = b1 * m[i] + (1 - b1) * gi
                let vi = b2 * v[i] + (1 - b2) * gi * gi
                m[i] = mi
                v[i] = vi
                let mHat = mi / c1
                let vHat = vi / c2
                p[i] = p[i] * decay - lr * mHat / (vHat.squareRoot() + eps)
            }
        }
    }
}
