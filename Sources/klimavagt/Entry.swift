import KlimavagtRuntime

/// The process's entry: the command runs on the agent's own task pool, so that an idle agent stays asleep.
@main
enum Entry {
    static func main() {
        AgentProcess.run {
            await Klimavagt.main()
        }
    }
}
