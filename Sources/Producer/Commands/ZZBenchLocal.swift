import ArgumentParser
struct BenchLocalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", subcommands: [BenchEmbedCommand.self])
}
