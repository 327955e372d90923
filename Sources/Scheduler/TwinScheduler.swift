import ArgumentParser
import Core

@main
struct TwinScheduler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "twin-scheduler", abstract: "Cron, reaper and delayed-job promotion.")
    func run() async throws {}
}
