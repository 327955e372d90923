import ArgumentParser
import Core

@main
struct TwinWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "twin-worker", abstract: "Run jobs from the queues.")
    func run() async throws {}
}
