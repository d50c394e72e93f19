import Glibc
import KlimavagtRuntime

/// The process's entry: the command runs on the agent's own task pool, so that an idle agent stays asleep.
@main
enum Entry {
    static func main() {
        // A peer that goes away (a broker closing a TLS session, a CLI client gone) is an error on that socket, never
        // a signal that ends the agent: libmosquitto and OpenSSL write to sockets without MSG_NOSIGNAL.
        signal(SIGPIPE, SIG_IGN)
        AgentProcess.run {
            await Klimavagt.main()
        }
    }
}
