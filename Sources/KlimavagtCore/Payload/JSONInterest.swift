/// The parts of a JSON document that its readers will look at: the union of some paths, for
/// `JSONParser.parse(_:keeping:)`, which then builds only those parts (and still checks the whole text).
public struct JSONInterest: Sendable {
    /// One position in the document: everything below it, or the members and elements some path goes on to.
    public final class Node: Sendable {
        struct Member: Sendable {
            let name: String
            let utf8: [UInt8]
            let node: Node
        }

        /// A path ends here: the whole value is kept.
        let everything: Bool
        let members: [Member]
        let elements: [Int: Node]

        init(everything: Bool, members: [Member], elements: [Int: Node]) {
            self.everything = everything
            self.members = members
            self.elements = elements
        }

        /// No path goes through here.
        static let nothing = Node(everything: false, members: [], elements: [:])
    }

    let root: Node

    /// The parts on any of `paths` (a path of no steps, `$`, is the whole document).
    public init(_ paths: [JSONPath]) {
        root = Self.node(paths.map { $0.steps[...] })
    }

    private static func node(_ rests: [ArraySlice<JSONPath.Step>]) -> Node {
        if rests.contains(where: \.isEmpty) { return Node(everything: true, members: [], elements: [:]) }
        var names: [String] = []
        var byName: [String: [ArraySlice<JSONPath.Step>]] = [:]
        var byPosition: [Int: [ArraySlice<JSONPath.Step>]] = [:]
        for rest in rests {
            switch rest.first! {
            case .member(let name):
                if byName[name] == nil { names.append(name) }
                byName[name, default: []].append(rest.dropFirst())
            case .index(let position):
                byPosition[position, default: []].append(rest.dropFirst())
            }
        }
        return Node(
            everything: false,
            members: names.map { Node.Member(name: $0, utf8: Array($0.utf8), node: node(byName[$0]!)) },
            elements: byPosition.mapValues { node($0) })
    }
}
