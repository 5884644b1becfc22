import neostandard from 'neostandard'

export default neostandard({ ts: true, ignores: ['node_modules', 'var', 'public/*.js', 'coverage', '.tap', 'client/dist'] })
