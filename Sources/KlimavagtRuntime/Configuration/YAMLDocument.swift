import Foundation
import Yams

/// Reads a YAML file into a node tree, turning every syntax error into a located `ConfigurationError`.
enum YAMLDocument {
    static func load(_ path: String) throws(ConfigurationError) -> YAMLReader {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, line: 1, column: 1, key: "(file)",
                                     message: "cannot read the file: \(Self.reason(error))")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws(ConfigurationError) -> YAMLReader {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigurationError(file: file, line: 1, column: 1, key: "(file)", message: "the file is empty")
            }
            return YAMLReader(file: file, node: node, path: "")
        } catch let error as ConfigurationError {
            throw error
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                 .composer(_, let problem, let mark, _):
                throw ConfigurationError(file: file, line: mark.line, column: mark.column, key: "(syntax)",
                                         message: "YAML syntax error: \(problem)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                throw ConfigurationError(file: file, line: context.mark.line, column: context.mark.column,
                                         key: duplicates.joined(separator: ", "), message: "given twice")
            default:
                throw ConfigurationError(file: file, line: 1, column: 1, key: "(syntax)",
                                         message: "YAML error: \(error)")
            }
        } catch {
            throw ConfigurationError(file: file, line: 1, column: 1, key: "(syntax)", message: "YAML error: \(error)")
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let cocoa = error as NSError?, let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return FileErrorText.describe(error)
    }
}
