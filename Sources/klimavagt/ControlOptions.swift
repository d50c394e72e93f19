import ArgumentParser
import Foundation
import KlimavagtRuntime

/// Options of the commands that ask the running agent, and the asking.
struct ControlOptions: ParsableArguments {
    @Option(help: ArgumentHelp(controlSocketHelp))
    var socket: String?

    /// The agent's answer, or exit status 69 with a message that says why the agent could not be asked.
    func ask(_ request: String) throws -> String {
        let path = socket ?? defaultControlSocket
        let answer: String
        do {
            answer = try ControlClient.ask(request, at: path)
        } catch {
            FileHandle.standardError.write(Data("klimavagt: \(error.description)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        if answer.hasPrefix(#"{"error""#),
           let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: String],
           let message = object["error"]
        {
            FileHandle.standardError.write(Data("klimavagt: \(message)\n".utf8))
            throw ExitCode(ExitStatus.usage)
        }
        return answer
    }

    /// Decodes the agent's JSON answer.
    func decode<T: Decodable>(_ type: T.Type, from answer: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: Data(answer.utf8))
        } catch {
            FileHandle.standardError.write(Data("klimavagt: the agent answered something unexpected: \(answer)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
    }
}

/// The options of the commands that show one answer of the running agent: where to ask, and `--json` to print the
/// answer as the agent gave it instead of as text.
struct AnswerOptions: ParsableArguments {
    @OptionGroup var control: ControlOptions

    @Flag(help: "Print the agent's answer as JSON.")
    var json = false

    /// The agent's answer to `request`, to be shown as text; nil once it has been printed as it came (`--json`).
    func textAnswer(to request: String) throws -> String? {
        let answer = try control.ask(request)
        guard !json else {
            print(answer)
            return nil
        }
        return answer
    }
}
