/// A path to one value in a JSON document: member names separated by dots, array indices in brackets.
///
/// `ENERGY.Total`, `switch:0.aenergy.total`, `uplink_message.decoded_payload.distance`, `readings[0].value`, and
/// `["odd.name"].x` for a member whose name holds a dot, and `$` for the whole document (a bare number).
public struct JSONPath: Sendable, Equatable, CustomStringConvertible {
    public enum Step: Sendable, Equatable {
        case member(String)
        case index(Int)
    }

    public let steps: [Step]
    public let description: String

    public init?(_ text: String) {
        var steps: [Step] = []
        var chars = Array(text)
        // `$` is the whole document; `$.a` is the same as `a`.
        if chars.first == "$" {
            chars.removeFirst()
            if chars.first == "." { chars.removeFirst() }
            if chars.isEmpty {
                self.steps = []
                self.description = text
                return
            }
        }
        var position = 0
        var name = ""
        var expectName = true
        func flush() -> Bool {
            if name.isEmpty { return !expectName }
            steps.append(.member(name))
            name = ""
            return true
        }
        while position < chars.count {
            let char = chars[position]
            switch char {
            case ".":
                guard flush() else { return nil }
                expectName = true
                position += 1
            case "[":
                if !name.isEmpty { _ = flush() }
                position += 1
                if position < chars.count, chars[position] == "\"" {
                    guard let close = chars[(position + 1)...].firstIndex(of: "\""),
                          close + 1 < chars.count, chars[close + 1] == "]"
                    else { return nil }
                    steps.append(.member(String(chars[(position + 1)..<close])))
                    position = close + 2
                } else {
                    guard let close = chars[position...].firstIndex(of: "]"),
                          let number = Int(String(chars[position..<close])), number >= 0
                    else { return nil }
                    steps.append(.index(number))
                    position = close + 1
                }
                expectName = false
            default:
                name.append(char)
                expectName = true
                position += 1
            }
        }
        if !name.isEmpty { steps.append(.member(name)) } else if expectName && !steps.isEmpty { return nil }
        guard !steps.isEmpty else { return nil }
        chars.removeAll()
        self.steps = steps
        self.description = text
    }

    /// The value at this path, or the path's prefix that is missing.
    public func resolve(in document: JSONValue) -> Result<JSONValue, Missing> {
        var node = document
        for (depth, step) in steps.enumerated() {
            switch step {
            case .member(let key):
                guard let next = node[key] else { return .failure(Missing(path: self, depth: depth, found: node)) }
                node = next
            case .index(let position):
                guard case .array(let elements) = node, position < elements.count else {
                    return .failure(Missing(path: self, depth: depth, found: node))
                }
                node = elements[position]
            }
        }
        return .success(node)
    }

    /// Where a path left the document.
    public struct Missing: Error, Sendable, Equatable {
        public var path: JSONPath
        /// How many steps resolved before the missing one.
        public var depth: Int
        public var found: JSONValue
    }
}
