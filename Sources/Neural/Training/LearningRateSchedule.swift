import RealModule

/// The shape of the learning-rate curve after warm-up.
public enum LRScheduleKind: String, Sendable, Codable, CaseIterable {
    case constant, linear, cosine
}

/// Learning rate per optimiser step, following Hugging Face's `get_*_schedule_with_warmup`:
/// linear warm-up from 0 over `warmupSteps`, then constant, linear decay to 0, or half-cosine to 0.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    /// Shape after warm-up.
    public var kind: LRScheduleKind
    /// Peak learning rate.
    public var peak: Float
    /// Warm-up steps.
    public var warmupSteps: Int
    /// Total optimiser steps of the run.
    public var totalSteps: Int

    /// Creates a schedule.
    public init(kind: LRScheduleKind, peak: Float, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The rate used for the update of (zero-based) `step`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step) / Float(Swift.max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(Swift.max(1, totalSteps - warmupSteps))
        switch kind {
        case .constant:
            return peak
        case .linear:
            return peak * Float(Swift.max(0, 1 - progress))
        case .cosine:
            return peak * Float(Swift.max(0, 0.5 * (1 + Double.cos(Double.pi * progress))))
        }
    }
}
