/// The code version recorded with jobs, runs and artifacts.
public enum TwinVersion {
    public static let current = "0.1.0"
}
